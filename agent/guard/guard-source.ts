/**
 * The revert guard's program, as source text run with `node -e` (so the same code runs from the
 * TypeScript sources under test and from dist/, and the guard loads nothing but node:child_process).
 *
 * Protocol (stdin, newline-delimited JSON; stdout acknowledgements):
 *   agent -> guard   {"seq":N,"plan":[["tc","qdisc","del",...],...]}   replace the whole plan
 *   guard -> agent   ack N
 *   agent -> guard   {"seq":N,"plan":[],"done":true}                    agent reverted itself: exit quietly
 * When stdin closes without "done" (the agent died: SIGKILL, OOM, crash), the guard runs every argv
 * of the last plan in order, without a shell, continuing past failures (a revert step that already
 * happened fails harmlessly), then logs "done" and exits. Consecutive `tc [-n NS] ...` steps run as
 * one `tc [-n NS] -force -batch -` (one process instead of one per step: this is the time that
 * matters after a SIGKILL); other steps run one by one; each process has a 5 s timeout. It ignores SIGINT, SIGTERM and
 * SIGHUP (a terminal or a process-group signal must not stop it before the agent is gone); the
 * agent starts it in its own session, so a process-group SIGKILL of the agent does not reach it.
 * argv[1] is the marker `backhaul-guard` and argv[2] the agent's pid, so `ps` and a restarted
 * agent can recognise it.
 */
export const GUARD_MARKER = 'backhaul-guard';

export const GUARD_SOURCE = String.raw`
'use strict';
const { spawnSync } = require('node:child_process');
let plan = [];
let done = false;
let buf = '';
const log = (m) => { try { process.stderr.write(new Date().toISOString() + ' guard[' + process.pid + ']: ' + m + '\n'); } catch (e) {} };
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => log('ignoring ' + s));
process.stdout.on('error', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (!line.trim()) continue;
    try {
      const msg = JSON.parse(line);
      if (!Array.isArray(msg.plan) || !msg.plan.every((a) => Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'string'))) throw new Error('bad plan');
      plan = msg.plan;
      if (msg.done) done = true;
      process.stdout.write('ack ' + msg.seq + '\n');
    } catch (e) {
      log('ignoring malformed message: ' + e.message);
    }
  }
});
const tcPrefix = (a) => (a[0] !== 'tc' ? null : a[1] === '-n' && a.length > 3 ? 'tc -n ' + a[2] : 'tc');
const batchable = (a) => tcPrefix(a) !== null && a.every((x) => /^[^\s"'\\#]+$/.test(x));
const finish = () => {
  if (done) { log('agent finished cleanly; exiting'); process.exit(0); }
  log('agent gone; running ' + plan.length + ' revert step(s)');
  let i = 0;
  while (i < plan.length) {
    const argv = plan[i];
    if (batchable(argv)) {
      const prefix = tcPrefix(argv);
      const lines = [];
      while (i < plan.length && batchable(plan[i]) && tcPrefix(plan[i]) === prefix) {
        lines.push(plan[i].slice(prefix === 'tc' ? 1 : 3).join(' '));
        i++;
      }
      const head = prefix.split(' ');
      const r = spawnSync('tc', [...head.slice(1), '-force', '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'], timeout: 5000 });
      log('ran ' + prefix + ' -batch [' + lines.join('; ') + '] -> ' + (r.error ? r.error.message : r.status) + (r.status ? ' ' + String(r.stderr).trim() : ''));
    } else {
      const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
      log('ran ' + argv.join(' ') + ' -> ' + (r.error ? r.error.message : r.status) + (r.status ? ' ' + String(r.stderr).trim() : ''));
      i++;
    }
  }
  log('done');
  process.exit(0);
};
process.stdin.on('end', finish);
process.stdin.on('error', finish);
`;
