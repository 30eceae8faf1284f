/**
 * The terminal summary: per step, a table of probes (p50/p99/loss/jitter/outages), failover
 * matches, conformance flags, then every assertion with its verdict, then the campaign verdict.
 */
import { formatMs, formatRatio } from '../quantity.js';
import type { CampaignResult, ProbeResult } from '../result.js';

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function probeRow(p: ProbeResult): string[] {
  const s = p.summary;
  if (!s) return [p.name, p.to, '-', '-', '-', '-', '-', p.error ?? 'no result'];
  const loss = s.lossRatio;
  const maxOutage = s.outages.length ? Math.max(...s.outages.map((o) => o.durationMs)) : 0;
  return [
    p.name,
    p.to,
    String(s.sent),
    formatMs(s.rttMs.p50),
    formatMs(s.rttMs.p99),
    formatRatio(loss),
    formatMs(s.jitterMs),
    s.outages.length ? `${s.outages.length} (max ${formatMs(maxOutage)})` : '0',
  ];
}

/** Render the summary (plain text; `color` adds ANSI marks for a terminal). */
export function renderSummary(r: CampaignResult, opts: { color?: boolean } = {}): string {
  const c = (code: string, s: string): string => (opts.color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const pass = c('32', 'PASS');
  const fail = c('31', 'FAIL');
  const out: string[] = [];
  out.push(`campaign ${r.campaign} (${r.source})`);
  for (const a of r.agents) {
    const noReflector = !a.problems.some((p) => p.includes('reflector'));
    const clock = a.clockOffsetMs === null
      ? `clock offset unknown${a.reachable && noReflector ? ' (the agent runs no STAMP reflector: enable it with `reflector: { listen: "0.0.0.0:862" }` in its config, see docs/agent.md)' : ''}`
      : `clock offset ${a.clockOffsetMs.toFixed(1)} ms +/- ${(a.clockUncertaintyMs ?? 0).toFixed(1)}`;
    out.push(`  agent ${a.name} ${a.url}: ${a.reachable ? 'reachable' : 'UNREACHABLE'}${a.version ? `, ${/^\d/.test(a.version) ? 'v' : ''}${a.version}` : ''}, backends ${a.backends.join('/') || '-'}, ${clock}${a.problems.length ? `; ${a.problems.join('; ')}` : ''}`);
  }
  for (const s of r.steps) {
    out.push('');
    const skews = Object.entries(s.skewMs).map(([a, v]) => `${a} ${v >= 0 ? '+' : ''}${v.toFixed(1)} ms`);
    out.push(`step ${s.name} (${formatMs(s.endMs - s.startMs)}${skews.length ? `, start skew ${skews.join(', ')}` : ''})${s.error ? c('31', ` ERROR: ${s.error}`) : ''}`);
    for (const i of s.impairments) {
      out.push(`  impairment ${i.name} on ${i.agent}: ${i.profile}${i.applied ? '' : ' NOT APPLIED'}${i.inEffect === false ? ' NOT IN EFFECT' : ''}${i.notInEffect && i.notInEffect.count > 0 ? ` NOT IN EFFECT ${i.notInEffect.count}x (${Math.round(i.notInEffect.totalMs)} ms) DURING THE STEP` : ''}${i.error ? ` (${i.error})` : ''}`);
    }
    for (const f of s.faults) out.push(`  fault ${f.name} (${f.kind}) on ${f.agent}: ${formatMs(f.endMs - f.startMs)}${f.error ? ` ERROR ${f.error}` : ''}`);
    if (s.probes.length) {
      const t = table(['probe', 'to', 'sent', 'p50', 'p99', 'loss', 'jitter', 'outages'], s.probes.map(probeRow));
      out.push(t.split('\n').map((l) => `  ${l}`).join('\n'));
    }
    for (const p of s.probes) {
      for (const m of p.failover?.matches ?? []) {
        if (m.event.optional) {
          if (m.matched) out.push(`  ${m.outages.length} outage(s) on ${p.name} explained by ${m.event.name} (max ${formatMs(Math.max(...m.outages.map((o) => o.durationMs)))})`);
          continue;
        }
        out.push(
          m.matched
            ? `  failover ${p.name} <- ${m.event.name}: detect ${formatMs(m.detectMs)}, outage ${formatMs(m.outageMs)} +/- ${formatMs(m.outageBoundMs)}, recover ${formatMs(m.recoverMs)} +/- ${formatMs(m.boundMs)}`
            : `  failover ${p.name} <- ${m.event.name}: no outage of ${formatMs(m.undetectableBelowMs)} or more`,
        );
      }
      for (const o of p.failover?.unexpected ?? []) out.push(`  outage on ${p.name} matching no fault or phase: ${formatMs(o.durationMs)}`);
      for (const cf of p.conformance) {
        const bad = cf.result.checks.filter((x) => x.status === 'deviation' || x.status === 'not-in-effect');
        if (bad.length === 0) continue;
        for (const b of bad) {
          const exp = Array.isArray(b.expected) ? `${b.expected[0].toFixed(2)}..${b.expected[1].toFixed(2)}` : b.expected === null ? '-' : b.expected.toFixed(b.quantity === 'loss' ? 4 : 2);
          out.push(`  conformance ${p.name} x ${cf.impairment}: ${b.quantity} ${b.status} (expected ${exp}, measured ${b.measured === null ? '-' : b.measured.toFixed(b.quantity === 'loss' ? 4 : 2)}, tolerance ${(b.toleranceMs ?? b.tolerance ?? 0).toFixed(b.quantity === 'loss' ? 4 : 2)})`);
        }
      }
    }
    for (const h of s.hooks) {
      out.push(`  hook ${h.name}: exit ${h.exitCode ?? h.signal ?? '-'}${h.timedOut ? ' (timed out)' : ''} in ${formatMs(h.durationMs)}${h.junit ? `, junit ${h.junit.tests} tests, ${h.junit.failures} failures` : ''}`);
      // The hook's failed test cases (its JUnit file), by name.
      for (const c of h.junit?.cases.filter((x) => x.failed) ?? []) out.push(`    ${fail} ${c.classname ? `${c.classname}.` : ''}${c.name}${c.message ? ` -- ${c.message}` : ''}`);
    }
    for (const a of s.assertions) out.push(`  ${a.passed ? pass : fail} ${a.scope === 'probe' || a.scope === 'hook' ? `${a.target}: ` : ''}${a.text} -- ${a.message}`);
  }
  out.push('');
  const failed = r.steps.reduce((n, s) => n + s.assertions.filter((a) => !a.passed).length, 0);
  const total = r.steps.reduce((n, s) => n + s.assertions.length, 0);
  const bad = r.reverts.filter((x) => !x.ok);
  if (r.reverts.length) out.push(`reverted ${r.reverts.length - bad.length}/${r.reverts.length} impairments${bad.length ? c('31', `; FAILED: ${bad.map((b) => `${b.agent}/${b.impairment}: ${b.error ?? ''}`).join(', ')}`) : ''}`);
  const verdict =
    r.verdict === 'passed'
      ? c('32', `PASSED: ${total} assertions hold`)
      : r.verdict === 'failed'
        ? c('31', `FAILED: ${failed} of ${total} assertions do not hold`)
        : c('31', `COULD NOT RUN: ${r.error ?? r.steps.find((s) => s.error)?.error ?? 'see above'}`);
  out.push(`${verdict} (exit ${r.exitCode})`);
  return out.join('\n') + '\n';
}
