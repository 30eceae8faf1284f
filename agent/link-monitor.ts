/**
 * Watches link events (`ip [-n NS] monitor link`, one long-lived child per network namespace in
 * use) and reports the interface names that changed, so the reconciler can re-check at once
 * instead of waiting for its periodic pass. A monitor that exits is restarted after a second while
 * its namespace is still wanted. Lines look like `7: veth0@if6: <...> mtu ...` or
 * `Deleted 7: veth0@if6: ...`.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** The interface name in one `ip monitor link` line, or null. Pure. */
export function linkNameOf(line: string): string | null {
  const m = /^(?:Deleted\s+)?(?:\[[A-Z]+\]\s*)?\d+:\s+([^:@\s]+)[@:]/.exec(line.trim());
  return m ? (m[1] as string) : null;
}

export class LinkMonitor {
  private readonly children = new Map<string, ChildProcess>();
  private stopped = false;

  constructor(private readonly onLink: (netns: string | undefined, dev: string, line: string) => void, private readonly log: (s: string) => void = () => undefined) {}

  /** Make the set of watched namespaces exactly `wanted` ('' = the agent's own). */
  sync(wanted: Set<string>): void {
    for (const [ns, child] of this.children) {
      if (!wanted.has(ns)) {
        this.children.delete(ns);
        child.kill('SIGTERM');
      }
    }
    for (const ns of wanted) if (!this.children.has(ns)) this.startOne(ns);
  }

  stop(): void {
    this.stopped = true;
    this.sync(new Set());
  }

  private startOne(ns: string): void {
    if (this.stopped) return;
    const child = spawn('ip', [...(ns ? ['-n', ns] : []), 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.children.set(ns, child);
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const dev = linkNameOf(line);
        if (dev) this.onLink(ns || undefined, dev, line);
      }
    });
    child.on('error', (e) => this.log(`ip monitor link${ns ? ` (netns ${ns})` : ''}: ${e.message}`));
    child.on('exit', () => {
      if (this.children.get(ns) !== child) return;
      this.children.delete(ns);
      setTimeout(() => {
        if (!this.stopped && !this.children.has(ns)) this.startOne(ns);
      }, 1000).unref();
    });
  }
}
