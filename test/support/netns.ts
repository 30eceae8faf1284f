/**
 * Test hosts in network namespaces, for the privileged tier. Node has no setns(2), so everything
 * inside a namespace runs as an `ip netns exec NAME ...` child.
 *
 * Names are unique per process (`bt<pid36><n>`, <= 15 characters so they also fit interface
 * names). Addresses are private and live only inside the namespaces these helpers create.
 * Always destroy in teardown (`await topo.destroy()` in afterEach/afterAll), even on failure.
 *
 *   two hosts:   [a] a0 ---- b0 [b]          10.77.0.1/24, fd77::1/64  <->  10.77.0.2/24, fd77::2/64
 *   gateway:     [client] c0 -- r0 [router] r1 -- s0 [server]
 *                10.78.1.2/24   10.78.1.1      10.78.2.1   10.78.2.2/24
 */
import { execa, type ResultPromise } from 'execa';

let counter = 0;

/** A unique name of at most 15 characters: prefix (<= 4 chars) + pid + counter, base 36. */
export function uniqueName(prefix = 'bt'): string {
  counter += 1;
  const name = `${prefix.slice(0, 4)}${process.pid.toString(36)}${counter.toString(36)}`;
  return name.slice(0, 15);
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Run a command (no shell); throws with argv, exit code and stderr unless `allowFail`. */
export async function run(argv: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('empty argv');
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  const result = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if (!opts.allowFail && result.exitCode !== 0) {
    throw new Error(`command failed (${result.exitCode}): ${argv.join(' ')}\n${result.stderr}`);
  }
  return result;
}

export class Netns {
  private constructor(readonly name: string) {}

  static async create(prefix = 'bt'): Promise<Netns> {
    const name = uniqueName(prefix);
    await run(['ip', 'netns', 'add', name]);
    const ns = new Netns(name);
    await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** argv prefixed with `ip netns exec NAME`. */
  argv(argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.name, ...argv];
  }

  exec(argv: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return run(this.argv(argv), opts);
  }

  /** Start a long-running process inside the namespace; the caller kills it. */
  spawn(argv: string[]): ResultPromise {
    const [file, ...args] = this.argv(argv);
    return execa(file as string, args, { reject: false, buffer: true });
  }

  async destroy(): Promise<void> {
    // Kill anything still running in the namespace, then delete it.
    const pids = await run(['ip', 'netns', 'pids', this.name], { allowFail: true });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await run(['ip', 'netns', 'del', this.name], { allowFail: true });
  }
}

export interface TwoHosts {
  a: Netns;
  b: Netns;
  aIf: string;
  bIf: string;
  aIp: string;
  bIp: string;
  aIp6: string;
  bIp6: string;
  destroy(): Promise<void>;
}

async function addAddresses(ns: Netns, dev: string, v4: string, v6?: string): Promise<void> {
  await ns.exec(['ip', 'addr', 'add', v4, 'dev', dev]);
  if (v6) await ns.exec(['ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad']);
  await ns.exec(['ip', 'link', 'set', dev, 'up']);
}

/** Create a veth pair between two namespaces with the given interface names. */
export async function vethBetween(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
  const tmpA = uniqueName('va');
  const tmpB = uniqueName('vb');
  await run(['ip', 'link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  await run(['ip', 'link', 'set', tmpA, 'netns', a.name]);
  await run(['ip', 'link', 'set', tmpB, 'netns', b.name]);
  await a.exec(['ip', 'link', 'set', tmpA, 'name', aIf]);
  await b.exec(['ip', 'link', 'set', tmpB, 'name', bIf]);
}

/** Two namespaces joined by one veth pair, IPv4 and IPv6 addressed. */
export async function twoHosts(): Promise<TwoHosts> {
  const a = await Netns.create('bta');
  const b = await Netns.create('btb');
  try {
    await vethBetween(a, 'a0', b, 'b0');
    await addAddresses(a, 'a0', '10.77.0.1/24', 'fd77::1/64');
    await addAddresses(b, 'b0', '10.77.0.2/24', 'fd77::2/64');
  } catch (e) {
    await a.destroy();
    await b.destroy();
    throw e;
  }
  return {
    a, b, aIf: 'a0', bIf: 'b0', aIp: '10.77.0.1', bIp: '10.77.0.2', aIp6: 'fd77::1', bIp6: 'fd77::2',
    destroy: async () => {
      await a.destroy();
      await b.destroy();
    },
  };
}

export interface Gateway {
  client: Netns;
  router: Netns;
  server: Netns;
  clientIp: string;
  serverIp: string;
  /** Router interface towards the client / the server. */
  routerClientIf: string;
  routerServerIf: string;
  destroy(): Promise<void>;
}

/** client - router - server, with forwarding on the router and default routes on both ends. */
export async function gateway(): Promise<Gateway> {
  const client = await Netns.create('btc');
  const router = await Netns.create('btr');
  const server = await Netns.create('bts');
  const destroy = async (): Promise<void> => {
    await client.destroy();
    await router.destroy();
    await server.destroy();
  };
  try {
    await vethBetween(client, 'c0', router, 'r0');
    await vethBetween(router, 'r1', server, 's0');
    await addAddresses(client, 'c0', '10.78.1.2/24');
    await addAddresses(router, 'r0', '10.78.1.1/24');
    await addAddresses(router, 'r1', '10.78.2.1/24');
    await addAddresses(server, 's0', '10.78.2.2/24');
    await router.exec(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await client.exec(['ip', 'route', 'add', 'default', 'via', '10.78.1.1']);
    await server.exec(['ip', 'route', 'add', 'default', 'via', '10.78.2.1']);
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    client, router, server, clientIp: '10.78.1.2', serverIp: '10.78.2.2', routerClientIf: 'r0', routerServerIf: 'r1', destroy,
  };
}
