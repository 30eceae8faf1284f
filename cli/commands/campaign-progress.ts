/**
 * Live progress for `campaign run` and `demo`, on stderr: a line per pre-flight site, per step
 * start, and per second during a step (on a terminal the tick line is rewritten in place; in a
 * log, one line every 5 s), then the reverts.
 */
import type { ProgressEvent } from '../../campaign/runner.js';
import { formatMs, formatRatio } from '../../campaign/quantity.js';

export function progressPrinter(write: (s: string) => void, isTTY: boolean): (e: ProgressEvent) => void {
  let ticks = 0;
  let open = false;
  const line = (s: string): void => {
    if (open) write('\n');
    open = false;
    write(`${s}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'preflight':
        for (const a of e.agents) {
          const clock = a.clockOffsetMs === null ? 'clock offset unknown' : `clock offset ${a.clockOffsetMs.toFixed(2)} ms +/- ${(a.clockUncertaintyMs ?? 0).toFixed(2)}`;
          line(`pre-flight ${a.name} (${a.url}): ${a.reachable ? (a.authorised ? 'ok' : 'token refused') : 'UNREACHABLE'}, backends ${a.backends.join('/') || '-'}, ${clock}${a.problems.length ? ` -- ${a.problems.join('; ')}` : ''}`);
        }
        break;
      case 'baseline':
        line(`baseline: ${e.probes} unimpaired path(s) for ${formatMs(e.durationMs)}`);
        break;
      case 'step-start':
        ticks = 0;
        line(`step ${e.index + 1}/${e.total} ${e.step}: ${formatMs(e.durationMs)}, agreed start ${new Date(e.plannedStartMs).toISOString().slice(11, 23)}`);
        break;
      case 'step-window':
        // Only worth a line when applying took long enough to notice (emulated kernels, many sites).
        if (e.applyMs >= 1000) line(`  ${e.step}: applied after ${formatMs(e.applyMs)}; the ${formatMs(e.endMs - e.startMs)} window starts now`);
        break;
      case 'tick': {
        ticks++;
        const text = `  ${e.step} ${Math.ceil(e.timeLeftMs / 1000)}s left  ${e.probes.map((p) => `${p.name} p50 ${formatMs(p.p50Ms)} p99 ${formatMs(p.p99Ms)} loss ${formatRatio(p.loss)}`).join('  ')}`;
        if (isTTY) {
          write(`\r\u001b[2K${text}`);
          open = true;
        } else if (ticks % 5 === 0) line(text);
        break;
      }
      case 'step-end': {
        const failed = e.step.assertions.filter((a) => !a.passed).length;
        line(`  ${e.step.name} done: ${e.step.error ? `ERROR ${e.step.error}` : `${e.step.assertions.length - failed}/${e.step.assertions.length} assertions hold`}`);
        break;
      }
      case 'reverted':
        if (e.reverts.length) line(`reverted ${e.reverts.filter((r) => r.ok).length}/${e.reverts.length} impairment(s) still held`);
        break;
    }
  };
}
