/**
 * The agent's profiles: the profile library (bundled + `profileDirs` from the config) and the
 * core parser for inline documents. Names only over the API (no paths).
 */
import { describe } from '../core/describe.js';
import { parseProfile } from '../core/profile-parse.js';
import type { ProfileCatalog } from './api/routes-info.js';
import type { ProfileResolver } from './impairments/manager.js';
import { listProfiles, loadProfile, type LibraryOptions } from './profile-library.js';
import { profileResolver } from './profile-resolver.js';

export function libraryProfiles(opts: LibraryOptions = {}): ProfileResolver & ProfileCatalog {
  const lib: LibraryOptions = { ...opts, allowPaths: false };
  return profileResolver({
    parse: (raw, source) => parseProfile(raw, source),
    load: (name) => loadProfile(name, lib),
    list: async () =>
      (await listProfiles(lib)).flatMap((e) =>
        e.profile ? [{ name: e.name, description: e.profile.description, ...(e.profile.source ? { source: e.profile.source } : {}) }] : [],
      ),
    describe,
  });
}
