/**
 * Child process entry for NetnsSite: runs one probe session inside the network namespace it was
 * started in (`ip netns exec NS node netns-probe-child.js '<json config>'`) and writes one JSON
 * line `{"type":"started"}` once the session sends, then one JSON
 * line per second (`{"type":"snapshot",...}`) and a final one (`{"type":"final",...}`) to stdout,
 * each with the summary and the RTT histogram (ns). SIGTERM (or stdin closing) stops it early,
 * also while it is still starting (then the final line reports what little was sent).
 */
let stopRequested = false;
let stopNow: () => void = () => {
  stopRequested = true;
};
process.on('SIGTERM', () => stopNow());
process.stdin.on('end', () => stopNow());
process.stdin.resume();

const { startProbeSession } = await import('../../probe/session.js');
const cfg = JSON.parse(process.argv[2] ?? '{}') as import('../../probe/session.js').ProbeSessionConfig;
const s = await startProbeSession({ ...cfg, snapshotIntervalMs: 1000 });
const line = (type: string, summary: unknown): void => {
  process.stdout.write(`${JSON.stringify({ type, summary, histogramNs: s.histogram().rtt })}\n`);
};
s.on('snapshot', (summary) => line('snapshot', summary));
process.stdout.write(`${JSON.stringify({ type: 'started' })}\n`);
let stopping = false;
stopNow = (): void => {
  if (stopping) return;
  stopping = true;
  void s.stop();
};
if (stopRequested) stopNow();
const final = await s.done;
line('final', final);
process.exit(0);
