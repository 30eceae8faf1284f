/**
 * How the kernel tier drives our netem backend (agent/netem/netem-backend.ts), and what `status`
 * is expected to read back for a profile's impairment.
 *
 * Read-back normalisation (what tc can and cannot report, stated once here):
 *   - `distribution` and `seed` are not in `tc -j` output: not compared (status lists them as
 *     unreadable);
 *   - `limitPackets`: the profile's, or effectiveLimitPackets() (core/limit.ts) when it sets none:
 *     the backend always renders a limit;
 *   - Gilbert-Elliott `1-h` / `1-k`: netem's defaults (100 %, 0 %) when the profile omits them;
 *   - `keepOrder`: also when the profile's rate is carried by netem (overhead/cells): the kernel
 *     keeps order under any netem rate, and status reports it.
 */
import { effectiveLimitPackets } from '../../core/limit.js';
import type { Impairment } from '../../core/profile.js';
import { NetemBackend } from '../../agent/netem/netem-backend.js';
import type { CaseContext } from './harness.js';
import { once } from './topology.js';

export const UNREADABLE = ['distribution', 'seed'] as const;

/** A fresh backend; its state records go to a per-process folder under the guest's fresh /run. */
export function createBackend(): NetemBackend {
  return new NetemBackend({ stateDir: `/run/backhaul-kernel-tier-${process.pid}` });
}

/** One backend per run: its capability probe (a dozen tc/ip processes) then runs once. */
export function sharedBackend(t: CaseContext): Promise<NetemBackend> {
  return once(t, 'backend:netem', async () => createBackend());
}

/** What status should report for `imp` (see the module comment). */
export function expectedReadBack(imp: Impairment): Impairment {
  const out: Impairment = { ...imp, limitPackets: effectiveLimitPackets(imp) };
  if (out.loss?.model === 'gilbert-elliott') out.loss = { oneMinusHPct: 100, oneMinusKPct: 0, ...out.loss };
  if (out.rateKbit !== undefined && (out.packetOverheadBytes !== undefined || out.cellSizeBytes !== undefined || out.cellOverheadBytes !== undefined)) {
    out.keepOrder = true; // a netem that carries the rate keeps order: status says so
  }
  return out;
}
