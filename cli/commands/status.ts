/**
 * `backhaul status [--dev IF] [--netns NS]`: what backhaul has in effect, read back live from the
 * kernel field by field (never from a cache), with the kernel and iproute2 versions. Without
 * --dev, every interface of the namespace that carries a backhaul tree is shown.
 */
import type { Command } from 'commander';
import type { Applied } from '../../agent/backend.js';
import { defaultStateDir } from '../../agent/netem/target-record.js';
import { parseIfbAlias } from '../../agent/netem/names.js';
import { parseJsonDup, parseLinks } from '../../agent/netem/tc-json.js';
import { runAction, type CliContext } from '../context.js';
import { emit } from '../output.js';
import { addDevFlags, impairmentLines, targetFromFlags } from './netem-common.js';
import { addAgentFlags, statusViaAgent, type RemoteFlags } from './agent-remote.js';

function parseJsonDupList(text: string): Record<string, unknown>[] {
  if (text.trim() === '') return [];
  const v = parseJsonDup(text);
  return Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
}

interface StatusFlags extends RemoteFlags {
  dev?: string;
  netns?: string;
  json?: boolean;
}

interface TreeDetails {
  attachedAt?: string;
  leaf?: string;
  leafHandle?: string;
  filters?: string[];
  unreadable?: string[];
  /** under a foreign root: how clear will leave it */
  foreignRevert?: string;
}

function treeLines(label: string, tree: TreeDetails | undefined): string[] {
  if (!tree) return [];
  const at = tree.attachedAt === 'root' ? 'root' : `under foreign ${tree.attachedAt}`;
  const out = [`  ${label}  htb bac0: at ${at}, leaf ${tree.leaf ?? 'none'} ${tree.leafHandle ?? ''}`.trimEnd()];
  if (tree.filters?.length) out.push('    selection', ...tree.filters.map((f) => `      ${f}`));
  else out.push('    selection     all traffic');
  if (tree.unreadable?.length) out.push(`    not reported by the kernel: ${tree.unreadable.join(', ')}`);
  if (tree.foreignRevert) out.push(`    on clear      ${tree.foreignRevert}`);
  return out;
}

function render(a: Applied): string[] {
  const d = (a.details ?? {}) as Record<string, unknown>;
  const t = a.target.kind === 'netem' ? a.target : undefined;
  const out = [`${t?.dev ?? '?'}${t?.netns ? ` (netns ${t.netns})` : ''}: ${a.profileName ? `profile ${a.profileName}` : 'backhaul tree (profile not recorded)'}${d['appliedAt'] ? `, applied ${String(d['appliedAt'])}` : ''}`];
  if (d['egressTree']) out.push(...treeLines('egress ', d['egressTree'] as TreeDetails), ...impairmentLines(a.egress));
  if (d['ifb']) {
    out.push(...treeLines(`ingress (IFB ${String(d['ifb'])})`, d['ingressTree'] as TreeDetails | undefined));
    const hook = d['ingressHook'] as { qdisc: string | null; redirect: boolean; filtersBefore: number } | undefined;
    if (hook) {
      out.push(`    redirect      ${hook.redirect ? `on the ${hook.qdisc ?? '?'} hook (prio 49152)` : 'MISSING: the downlink is not impaired (re-apply)'}`);
      if (hook.filtersBefore > 0) out.push(`    note          ${hook.filtersBefore} foreign filter(s) run before the redirect and may bypass it`);
    }
    if (d['ingressTree']) out.push(...impairmentLines(a.ingress));
  }
  if (d['offloadsRecorded']) out.push(`  offloads to restore on clear: ${JSON.stringify(d['offloadsRecorded'])}`);
  return out;
}

export function registerStatus(program: Command, ctx: CliContext): void {
  const cmd = program.command('status').description('show the impairment in effect, read back live from the kernel');
  addAgentFlags(addDevFlags(cmd, false))
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExamples:\n  backhaul status\n  backhaul status --dev eth1 --json\n')
    .action(async (flags: StatusFlags) => {
      await runAction(ctx, flags, async () => {
        if (flags.agent) return statusViaAgent(ctx, flags, flags.dev, flags.netns);
        const { NetemBackend } = await import('../../agent/netem/netem-backend.js'); // heavy (execa): loaded on run
        const backend = new NetemBackend({ stateDir: defaultStateDir(ctx.env) });
        const versions = await backend.versions();
        let devs: string[];
        const orphans: { ifb: string; dev: string }[] = [];
        if (flags.dev !== undefined) devs = [flags.dev];
        else {
          const r = await backend.runner.run(['ip', ...(flags.netns ? ['-n', flags.netns] : []), '-j', 'link', 'show']);
          const links = parseLinks(r.stdout);
          devs = links.filter((l) => !parseIfbAlias(l.alias)).map((l) => l.ifname.split('@')[0] as string);
          // Our IFBs whose device is gone: `clear --dev <that device>` removes them.
          const withIfb = new Set<string>();
          for (const l of links) {
            const a = parseIfbAlias(l.alias);
            if (a && !devs.includes(a.dev)) orphans.push({ ifb: l.ifname, dev: a.dev });
            if (a) withIfb.add(a.dev);
          }
          // One dump of every qdisc in the namespace: look closer only where our htb is (or our IFB points).
          const all = await backend.runner.run(['tc', ...(flags.netns ? ['-n', flags.netns] : []), '-j', 'qdisc', 'show']);
          const ours = new Set((parseJsonDupList(all.stdout)).filter((q) => q['handle'] === 'bac0:').map((q) => String(q['dev'])));
          devs = devs.filter((d) => ours.has(d) || withIfb.has(d));
        }
        const results: Applied[] = [];
        for (const dev of devs) {
          const a = await backend.status(targetFromFlags({ dev, ...(flags.netns !== undefined ? { netns: flags.netns } : {}) }));
          if (a) results.push(a);
        }
        emit(ctx.io, flags, { ...versions, interfaces: results, ...(orphans.length ? { orphanIfbs: orphans } : {}) }, () => {
          const head = `kernel ${versions.kernel}, iproute2 ${versions.iproute2}`;
          const orphanLines = orphans.map((o) => `orphaned IFB ${o.ifb}: its interface ${o.dev} is gone (backhaul clear --dev ${o.dev}${flags.netns ? ` --netns ${flags.netns}` : ''} removes it)`);
          if (results.length === 0) return [`${head}`, `no backhaul impairment on ${flags.dev ?? 'any interface'}${flags.netns ? ` in netns ${flags.netns}` : ''}`, ...orphanLines].join('\n');
          return [head, ...results.flatMap(render), ...orphanLines].join('\n');
        });
      });
    });
}
