/**
 * A self-contained HTML report: one file, no network. uPlot's distribution file is read from
 * node_modules at report time and inlined with its CSS; the data is embedded as JSON.
 *
 * Plots (uPlot):
 *   per step and probe: latency CDF (log x) and latency histogram (log-spaced bins)
 *   one timeline for the whole campaign: loss % and p50/p99 per second for every probe, with
 *   steps, profile phases, faults and measured outage windows drawn as bands on the same axis
 * Every plot is registered in `window.__backhaulPlots` ({ id, kind, plot }) so tests and users
 * can read the plotted data back; the timeline's bands as last drawn (canvas pixels) are in
 * `window.__backhaulBands` ({ kind, label, x, y, w, h }).
 * Per step: the impairments, the hooks (exit code, and the test cases of a hook's JUnit file),
 * the probes with their failover matches.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CampaignResult } from '../result.js';

const require = createRequire(import.meta.url);

function uplotAssets(): { js: string; css: string } {
  const pkgDir = dirname(require.resolve('uplot/package.json'));
  return {
    js: readFileSync(join(pkgDir, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(join(pkgDir, 'dist', 'uPlot.min.css'), 'utf8'),
  };
}

const fmt = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(2));
const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** The data the page's script plots (a reduced view of the result). */
function plotData(r: CampaignResult): unknown {
  const t0 = r.startedAtMs;
  return {
    t0,
    steps: r.steps.map((s) => ({
      name: s.name,
      probes: s.probes.map((p) => ({ name: p.name, to: p.to, cdf: p.latency?.cdf ?? null, bins: p.latency?.bins ?? null, ticks: p.ticks })),
    })),
    spans: r.steps.flatMap((s) => s.spans.map((sp) => ({ ...sp, startS: (sp.startMs - t0) / 1000, endS: (sp.endMs - t0) / 1000 }))),
  };
}

const PAGE_SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById('backhaul-data').textContent);
  var plots = (window.__backhaulPlots = []);
  var colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
  var spanColors = { step: 'rgba(120,120,120,0.08)', phase: 'rgba(31,119,180,0.15)', fault: 'rgba(214,39,40,0.25)', outage: 'rgba(255,127,14,0.45)' };
  function add(id, kind, opts, d, el) {
    var u = new uPlot(opts, d, el);
    plots.push({ id: id, kind: kind, plot: u });
  }
  data.steps.forEach(function (s, si) {
    s.probes.forEach(function (p, pi) {
      var box = document.getElementById('plots-' + si + '-' + pi);
      if (!box || !p.cdf || p.cdf.xMs.length === 0) return;
      add(s.name + '/' + p.name + '/cdf', 'cdf', {
        title: s.name + ' / ' + p.name + ': latency CDF', width: 520, height: 260,
        scales: { x: { time: false, distr: 3 }, y: { range: [0, 1] } },
        axes: [{ label: 'RTT (ms)' }, { label: 'fraction <= x' }],
        series: [{ label: 'RTT ms' }, { label: 'CDF', stroke: colors[pi % colors.length], width: 2 }],
      }, [p.cdf.xMs, p.cdf.y], box);
      add(s.name + '/' + p.name + '/hist', 'histogram', {
        title: s.name + ' / ' + p.name + ': latency histogram', width: 520, height: 260,
        scales: { x: { time: false, distr: 3 }, y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } } },
        axes: [{ label: 'RTT (ms, log bins)' }, { label: 'probes' }],
        series: [{ label: 'bin from ms' }, { label: 'count', stroke: colors[pi % colors.length], fill: 'rgba(31,119,180,0.3)', paths: uPlot.paths.bars({ size: [0.9, 40] }) }],
      }, [p.bins.edgeMs, p.bins.count], box);
    });
  });
  // Timeline: one x axis (seconds since the campaign started) for every probe.
  var names = [];
  var series = {};
  data.steps.forEach(function (s) {
    s.probes.forEach(function (p) {
      p.ticks.forEach(function (t) {
        var key = s.name + '/' + p.name;
        if (!series[key]) { series[key] = {}; names.push(key); }
        series[key][Math.round((t.tMs - data.t0) / 100) / 10] = t;
      });
    });
  });
  var xs = {};
  names.forEach(function (k) { Object.keys(series[k]).forEach(function (x) { xs[x] = 1; }); });
  var xAxis = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
  if (xAxis.length > 0) {
    var d = [xAxis];
    var ser = [{ label: 's' }];
    names.forEach(function (k, i) {
      d.push(xAxis.map(function (x) { var t = series[k][x]; return t && t.sent > 0 ? (100 * t.lost) / t.sent : null; }));
      ser.push({ label: k + ' loss %', stroke: colors[i % colors.length], scale: '%', width: 1.5 });
      d.push(xAxis.map(function (x) { var t = series[k][x]; return t ? t.p50Ms : null; }));
      ser.push({ label: k + ' p50 ms', stroke: colors[i % colors.length], dash: [4, 3], scale: 'ms', width: 1 });
      d.push(xAxis.map(function (x) { var t = series[k][x]; return t ? t.p99Ms : null; }));
      ser.push({ label: k + ' p99 ms', stroke: colors[i % colors.length], dash: [1, 3], scale: 'ms', width: 1 });
    });
    var bands = function (u) {
      var ctx = u.ctx;
      var drawn = [];
      ctx.save();
      data.spans.forEach(function (sp) {
        var a = u.valToPos(sp.startS, 'x', true), b = u.valToPos(sp.endS, 'x', true);
        ctx.fillStyle = spanColors[sp.kind] || 'rgba(0,0,0,0.1)';
        var top = u.bbox.top, h = u.bbox.height;
        if (sp.kind === 'fault' || sp.kind === 'outage') { top = u.bbox.top + (sp.kind === 'fault' ? 0 : h * 0.85); h = h * 0.15; }
        ctx.fillRect(a, top, Math.max(b - a, 1), h);
        drawn.push({ kind: sp.kind, label: sp.label, x: a, y: top, w: Math.max(b - a, 1), h: h });
      });
      ctx.restore();
      window.__backhaulBands = drawn;
    };
    add('timeline', 'timeline', {
      title: 'Timeline: loss, p50 (dashed) and p99 (dotted) per second; steps (grey), phases (blue), faults (red, top), outages (orange, bottom)',
      width: 1100, height: 340,
      scales: { x: { time: false }, '%': { range: [0, 100] }, ms: { distr: 1 } },
      axes: [{ label: 'seconds since start' }, { scale: '%', label: 'loss %' }, { scale: 'ms', side: 1, label: 'p50 / p99 ms', grid: { show: false } }],
      series: ser,
      hooks: { drawClear: [bands] },
    }, d, document.getElementById('timeline'));
  }
})();
`;

export function renderHtml(r: CampaignResult): string {
  const { js, css } = uplotAssets();
  const rows = r.steps.flatMap((s) =>
    s.assertions.map(
      (a) => `<tr class="${a.passed ? 'pass' : 'fail'}"><td>${esc(s.name)}</td><td>${esc(a.scope)}</td><td>${esc(a.target)}</td><td><code>${esc(a.text)}</code></td><td>${a.passed ? 'PASS' : 'FAIL'}</td><td>${esc(a.message)}</td></tr>`,
    ),
  );
  const steps = r.steps.map((s, si) => {
    const probes = s.probes
      .map((p, pi) => {
        const sum = p.summary;
        const stats = sum
          ? `sent ${sum.sent}, received ${sum.received}, p50 ${fmt(sum.rttMs.p50)} ms, p99 ${fmt(sum.rttMs.p99)} ms, loss ${(100 * sum.lossRatio).toFixed(2)}%, jitter ${fmt(sum.jitterMs)} ms, outages ${sum.outageCount}`
          : esc(p.error ?? 'no result');
        const fo = (p.failover?.matches ?? [])
          .filter((m) => !m.event.optional || m.matched)
          .map((m) => `<li>${esc(m.event.name)}: ${m.event.optional ? `explains ${m.outages.length} outage(s)` : m.matched ? `detect ${m.detectMs?.toFixed(0)} ms, outage ${m.outageMs.toFixed(0)} &plusmn; ${m.outageBoundMs.toFixed(0)} ms, recover ${m.recoverMs?.toFixed(0)} &plusmn; ${m.boundMs.toFixed(0)} ms` : `no outage &ge; ${m.undetectableBelowMs} ms`}</li>`)
          .join('');
        return `<h3>${esc(p.name)} &rarr; ${esc(p.to)}</h3><p>${stats}</p>${fo ? `<ul>${fo}</ul>` : ''}<div class="plots" id="plots-${si}-${pi}"></div>`;
      })
      .join('\n');
    const imps = s.impairments.map((i) => `<li>${esc(i.name)} on ${esc(i.agent)}: ${esc(i.profile)}${i.applied ? '' : ' <b>not applied</b>'}${i.inEffect === false ? ' <b>not in effect</b>' : ''}${i.notInEffect && i.notInEffect.count > 0 ? ` <b>not in effect ${i.notInEffect.count}x (${Math.round(i.notInEffect.totalMs)} ms) during the step</b>` : ''}</li>`).join('');
    const hooks = s.hooks
      .map((h) => {
        const status = h.timedOut ? 'timed out' : h.error ? `error: ${h.error}` : h.exitCode === null ? `killed${h.signal ? ` (${h.signal})` : ''}` : `exit ${h.exitCode}`;
        const j = h.junit;
        const cases = j
          ? `<table class="hook-cases"><thead><tr><th>class</th><th>test case</th><th>verdict</th><th>message</th></tr></thead><tbody>${j.cases
              .map((c) => `<tr class="${c.failed ? 'fail' : 'pass'}"><td>${esc(c.classname)}</td><td>${esc(c.name)}</td><td>${c.failed ? 'FAIL' : 'PASS'}</td><td>${esc(c.message ?? '')}</td></tr>`)
              .join('')}</tbody></table>`
          : '';
        return `<li class="hook">hook <b>${esc(h.name)}</b>: ${esc(status)}, ${(h.durationMs / 1000).toFixed(1)} s${j ? `; JUnit: ${j.tests} tests, ${j.failures} failures, ${j.errors} errors, ${j.skipped} skipped` : ''}${cases}</li>`;
      })
      .join('');
    return `<section><h2>Step ${esc(s.name)}${s.error ? ` <span class="fail">ERROR: ${esc(s.error)}</span>` : ''}</h2>${imps ? `<ul>${imps}</ul>` : ''}${hooks ? `<ul>${hooks}</ul>` : ''}${probes}</section>`;
  });
  const verdictText = r.verdict === 'passed' ? 'PASSED' : r.verdict === 'failed' ? 'FAILED' : 'COULD NOT RUN';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backhaul campaign ${esc(r.campaign)}</title>
<style>${css}
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
.pass{color:#1a7f37}.fail{color:#c62828}tr.fail td{background:#fdecea}.plots{display:flex;flex-wrap:wrap;gap:12px}.verdict{font-size:20px;font-weight:bold}</style>
</head><body>
<h1>Campaign ${esc(r.campaign)}</h1>
<p>${esc(r.description)}</p>
<p class="verdict ${r.verdict === 'passed' ? 'pass' : 'fail'}">${verdictText} (exit ${r.exitCode})${r.error ? `: ${esc(r.error)}` : ''}</p>
<p>${esc(r.source)} &middot; ${new Date(r.startedAtMs).toISOString()} &middot; ${((r.endedAtMs - r.startedAtMs) / 1000).toFixed(1)} s</p>
<div id="timeline"></div>
<h2>Assertions</h2>
<table><thead><tr><th>step</th><th>scope</th><th>target</th><th>assertion</th><th>verdict</th><th>measured</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
${steps.join('\n')}
<script type="application/json" id="backhaul-data">${scriptJson(plotData(r))}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
