/**
 * The profile library for agent tests: the real one (core parser, library loader), with the
 * bundled profiles plus small rate-only ones that work on kernels without netem.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { libraryProfiles } from '../../agent/profile-source.js';

export const RATE_PROFILES: Record<string, string> = {
  'rate-1m': 'name: rate-1m\ndescription: 1 Mbit/s uplink\negress:\n  rate: 1mbit\n',
  'rate-2m': 'name: rate-2m\ndescription: 2 Mbit/s both ways\negress:\n  rate: 2mbit\ningress:\n  rate: 2mbit\n',
  'rate-crawl': 'name: rate-crawl\ndescription: 8 kbit/s, a near-cut link\negress:\n  rate: 8kbit\ningress:\n  rate: 8kbit\n',
  'rate-steps': [
    'name: rate-steps', 'description: rate phases', 'egress:', '  rate: 4mbit', 'schedule:', '  loop: true', '  phases:',
    '    - name: slow', '      duration: 300ms', '      egress:', '        rate: 1mbit',
    '    - name: fast', '      duration: 300ms', '      egress:', '        rate: 8mbit', '',
  ].join('\n'),
};

/** Write the test profiles into `dir` (created) and return a resolver over them + the bundled ones. */
export function testProfiles(dir: string): ReturnType<typeof libraryProfiles> {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(RATE_PROFILES)) writeFileSync(join(dir, `${name}.yaml`), text);
  return libraryProfiles({ dirs: [dir], env: {} });
}
