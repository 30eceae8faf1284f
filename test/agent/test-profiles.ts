/**
 * The profile library for agent tests: the real one (core parser + bundled profiles) once merged.
 */
import { BackhaulError } from '../../core/errors.js';
import type { Profile } from '../../core/profile.js';
import { profileResolver } from '../../agent/profile-resolver.js';

const LIB: Record<string, Profile> = {
  'rate-1m': { name: 'rate-1m', description: '1 Mbit/s', egress: { rateKbit: 1000 } },
};

export function testProfiles(): ReturnType<typeof profileResolver> {
  return profileResolver({
    parse: (raw, source) => {
      const r = raw as { name?: unknown; egress?: { rateKbit?: unknown } };
      const problems: string[] = [];
      if (typeof r.name !== 'string') problems.push(`${source}.name: required`);
      if (typeof r.egress?.rateKbit !== 'number' || r.egress.rateKbit <= 0) problems.push(`${source}.egress.rateKbit: must be > 0`);
      if (problems.length) throw new BackhaulError('ERR_PROFILE_INVALID', problems[0] as string, { problems });
      return { name: r.name as string, description: '', egress: { rateKbit: r.egress?.rateKbit as number } };
    },
    load: async (name) => {
      const p = LIB[name];
      if (!p) throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `no profile ${name}`);
      return p;
    },
    list: async () => Object.values(LIB).map((p) => ({ name: p.name, description: p.description })),
    describe: (p) => p.description,
  });
}
