import { describe, expect, it } from 'vitest';
import { classifyFailure, TcRunner, type Exec, type ExecResult } from '../../../agent/netem/runner.js';
import type { Plan } from '../../../agent/netem/plan.js';
import { isBackhaulError, type BackhaulError } from '../../../core/errors.js';

interface Call {
  file: string;
  args: string[];
  input?: string;
}

function fakeExec(reply: (c: Call) => Partial<ExecResult> = () => ({})): { exec: Exec; calls: Call[] } {
  const calls: Call[] = [];
  const exec: Exec = async (file, args, opts) => {
    const c = { file, args, ...(opts.input !== undefined ? { input: opts.input } : {}) };
    calls.push(c);
    return { stdout: '', stderr: '', exitCode: 0, timedOut: false, notFound: false, ...reply(c) };
  };
  return { exec, calls };
}

async function caught(p: Promise<unknown>): Promise<BackhaulError> {
  try {
    await p;
  } catch (e) {
    if (isBackhaulError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('TcRunner.execute', () => {
  const plan: Plan = {
    netns: 'ns1',
    warnings: [],
    steps: [
      { tool: 'ip', args: ['link', 'add', 'name', 'bh1', 'type', 'ifb'] },
      { tool: 'tc', args: ['qdisc', 'add', 'dev', 'bh1', 'root', 'handle', 'bac0:', 'htb'] },
      { tool: 'tc', args: ['class', 'replace', 'dev', 'bh1', 'parent', 'bac0:', 'classid', 'bac0:10', 'htb', 'rate', '1kbit'] },
      { tool: 'ip', args: ['link', 'del', 'dev', 'bh1'] },
      { tool: 'tc', args: ['qdisc', 'del', 'dev', 'eth0', 'root'] },
      { tool: 'ethtool', args: ['-K', 'eth0', 'gso', 'off'] },
    ],
  };

  it('runs consecutive tc steps as one tc -batch fed on stdin, others one by one, in order, never via a shell', async () => {
    const { exec, calls } = fakeExec();
    await new TcRunner({ exec }).execute(plan);
    expect(calls).toEqual([
      { file: 'ip', args: ['-n', 'ns1', 'link', 'add', 'name', 'bh1', 'type', 'ifb'] },
      { file: 'tc', args: ['-n', 'ns1', '-batch', '-'], input: 'qdisc add dev bh1 root handle bac0: htb\nclass replace dev bh1 parent bac0: classid bac0:10 htb rate 1kbit\n' },
      { file: 'ip', args: ['-n', 'ns1', 'link', 'del', 'dev', 'bh1'] },
      { file: 'tc', args: ['-n', 'ns1', 'qdisc', 'del', 'dev', 'eth0', 'root'] },
      { file: 'ip', args: ['netns', 'exec', 'ns1', 'ethtool', '-K', 'eth0', 'gso', 'off'] },
    ]);
    expect(calls.some((c) => c.file === 'sh' || c.file === 'bash')).toBe(false);
  });

  it('stops at the first failure with argv, exit code, stderr and the batch', async () => {
    const { exec, calls } = fakeExec((c) => (c.args.includes('-batch') ? { exitCode: 1, stderr: 'RTNETLINK answers: File exists\nCommand failed -:2\n' } : {}));
    const e = await caught(new TcRunner({ exec }).execute(plan));
    expect(e.code).toBe('ERR_TC_FAILED');
    expect(e.details).toMatchObject({ argv: ['tc', '-n', 'ns1', '-batch', '-'], exitCode: 1, stderr: expect.stringContaining('File exists') });
    expect(e.details['batch']).toContain('class replace');
    expect(calls).toHaveLength(2);
  });

  it('an aborted signal stops before the next step', async () => {
    const { exec, calls } = fakeExec();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(new TcRunner({ exec }).execute(plan, ac.signal)).rejects.toThrow('stop');
    expect(calls).toHaveLength(0);
  });
});

describe('TcRunner.run errors', () => {
  it('a missing program is ERR_CAPABILITY_MISSING naming the package', async () => {
    const { exec } = fakeExec(() => ({ notFound: true, exitCode: -1 }));
    const e = await caught(new TcRunner({ exec }).run(['tc', '-V']));
    expect(e.code).toBe('ERR_CAPABILITY_MISSING');
    expect(e.details['hint']).toMatch(/iproute2/);
  });
  it('a timeout is ERR_COMMAND_TIMEOUT', async () => {
    const { exec } = fakeExec(() => ({ timedOut: true, exitCode: -1 }));
    expect((await caught(new TcRunner({ exec, timeoutMs: 5 }).run(['tc', 'qdisc', 'show']))).code).toBe('ERR_COMMAND_TIMEOUT');
  });
  it('allowFail returns the result', async () => {
    const { exec } = fakeExec(() => ({ exitCode: 2, stderr: 'x' }));
    expect((await new TcRunner({ exec }).run(['tc', 'x'], { allowFail: true })).exitCode).toBe(2);
  });
  it.each([
    ['RTNETLINK answers: Operation not permitted', 'ERR_PERMISSION'],
    ['Cannot open network namespace "x": No such file or directory', 'ERR_NETNS_NOT_FOUND'],
    ['Cannot find device "eth9"', 'ERR_INTERFACE_NOT_FOUND'],
    ['Error: Specified qdisc kind is unknown.', 'ERR_CAPABILITY_MISSING'],
    ['RTNETLINK answers: File exists', 'ERR_TC_FAILED'],
  ])('classifies %j as %s', (stderr, code) => expect(classifyFailure(stderr)).toBe(code));
});

describe('TcRunner.readLiveState', () => {
  it('reads qdiscs, then classes/filters only where our htb is, the ingress hook, and our IFB', async () => {
    const { exec, calls } = fakeExec((c) => {
      const a = c.args.join(' ');
      if (c.file === 'ip') return { exitCode: 1, stderr: 'Device "bh..." does not exist.' };
      if (a.includes('qdisc show')) return { stdout: '[{"kind":"htb","handle":"bac0:","root":true,"options":{}},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","options":{}}]' };
      if (a.includes('class show')) return { stdout: 'class htb bac0:10 root leaf bac1: prio 0 rate 5Mbit ceil 5Mbit burst 3026b cburst 3026b \n' };
      return { stdout: '[]' };
    });
    const s = await new TcRunner({ exec }).readLiveState({ dev: 'eth0', netns: 'n' });
    expect(s.ifb).toBeNull();
    expect(s.dev.classes[0]?.rateBps).toBe(5e6);
    expect(calls.map((c) => `${c.file} ${c.args.join(' ')}`)).toEqual([
      'tc -n n -j qdisc show dev eth0',
      'tc -n n -j class show dev eth0 parent bac0:',
      'tc -n n -j filter show dev eth0 parent bac0:',
      'tc -n n -j filter show dev eth0 parent ffff:fff2',
      expect.stringMatching(/^ip -n n -j link show dev bh[0-9a-f]{8}$/),
    ]);
  });
  it('a missing namespace while looking for the IFB is an error, not "no IFB"', async () => {
    const { exec } = fakeExec((c) => (c.file === 'ip' ? { exitCode: 1, stderr: 'Cannot open network namespace "n": No such file or directory' } : { stdout: '[]' }));
    expect((await caught(new TcRunner({ exec }).readLiveState({ dev: 'eth0', netns: 'n' }))).code).toBe('ERR_NETNS_NOT_FOUND');
  });
});
