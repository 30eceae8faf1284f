/**
 * Profiles for the API: a library name or an inline document, parsed once by the core parser.
 * Inline documents get the source label `request` in error paths; a name that is not in the
 * library is ERR_PROFILE_NOT_FOUND (404); an invalid document ERR_PROFILE_INVALID (400) with
 * every problem in `details.problems`.
 */
import { BackhaulError } from '../core/errors.js';
import type { Profile } from '../core/profile.js';
import type { ProfileCatalog } from './api/routes-info.js';
import type { ProfileSummary } from './api/types.js';
import type { ProfileResolver } from './impairments/manager.js';

export interface ProfileLibrary {
  /** Parse a raw document (already YAML/JSON-decoded); throws ERR_PROFILE_INVALID listing every problem. */
  parse(raw: unknown, source: string): Profile;
  /** Load a named profile; throws ERR_PROFILE_NOT_FOUND. */
  load(name: string): Promise<Profile>;
  list(): Promise<ProfileSummary[]>;
  describe(p: Profile): string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function profileResolver(lib: ProfileLibrary): ProfileResolver & ProfileCatalog {
  const byName = async (name: string): Promise<Profile> => {
    // Names only: a path-looking string is not accepted over the API (no file access by request).
    if (!NAME_RE.test(name)) throw new BackhaulError('ERR_PROFILE_NOT_FOUND', `no profile named ${JSON.stringify(name.slice(0, 64))} (the API takes library names or inline profiles, not paths)`);
    return lib.load(name);
  };
  return {
    resolve: async (input) => (typeof input === 'string' ? byName(input) : lib.parse(input, 'request.profile')),
    list: () => lib.list(),
    get: async (name) => {
      const profile = await byName(name);
      return { profile, description: lib.describe(profile) };
    },
  };
}
