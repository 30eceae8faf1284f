/**
 * Child process entry: a STAMP reflector inside the network namespace it was started in
 * (`ip netns exec NS node netns-reflector-child.js HOST PORT`), for `backhaul demo --netns`.
 * Writes one line `{"listening":"HOST:PORT"}` once it answers; SIGTERM or stdin closing stops it.
 */
import { startReflector } from '../../probe/reflector.js';

const host = process.argv[2] ?? '127.0.0.1';
const port = Number(process.argv[3] ?? 0);
const r = await startReflector({ host, port, ratePps: 0 });
const stop = (): void => {
  void r.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ listening: `${r.address.address}:${r.address.port}` })}\n`);
