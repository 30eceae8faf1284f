/**
 * Edge validation of a netem target (interface and namespace names, match rules), kept free of
 * heavy imports (no execa) so the CLI can validate flags before loading the backend.
 */
import { BackhaulError } from '../../core/errors.js';
import type { NetemTarget } from '../backend.js';
import { validateMatchRule } from './match.js';
import { validateInterfaceName, validateNetnsName } from './names.js';

/** Validate a target at the edge (names, match rules). Returns a normalized copy. */
export function validateNetemTarget(t: NetemTarget): NetemTarget {
  const out: NetemTarget = {
    kind: 'netem',
    dev: validateInterfaceName(t.dev),
    direction: t.direction,
    ...(t.netns !== undefined ? { netns: validateNetnsName(t.netns) } : {}),
    ...(t.match?.length ? { match: t.match.map(validateMatchRule) } : {}),
    ...(t.exclude?.length ? { exclude: t.exclude.map(validateMatchRule) } : {}),
    ...(t.disableOffloads ? { disableOffloads: true } : {}),
  };
  if (!['egress', 'ingress', 'both'].includes(t.direction)) {
    throw new BackhaulError('ERR_USAGE', `direction must be egress, ingress or both (got ${JSON.stringify(t.direction)})`);
  }
  return out;
}
