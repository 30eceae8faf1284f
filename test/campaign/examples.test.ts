/** Every example campaign in campaigns/ is valid, and its named profiles exist in the library. */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProfile } from '../../agent/profile-library.js';
import { loadCampaign } from '../../campaign/spec.js';

const DIR = resolve(import.meta.dirname, '../../campaigns');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('example campaigns', () => {
  it('there are the four the docs promise', () => {
    expect(FILES.sort()).toEqual(['failover-drill.yaml', 'meant-to-fail.yaml', 'release-gate.yaml', 'satellite-site.yaml']);
  });
  it.each(FILES)('%s is valid and its profiles load', async (f) => {
    const c = await loadCampaign(join(DIR, f), { env: { BACKHAUL_TOKEN_STORES: 's', BACKHAUL_TOKEN_DC: 'd' } });
    expect(c.steps.length).toBeGreaterThan(0);
    for (const s of c.steps) for (const i of s.impairments) if ('name' in i.profile) await expect(loadProfile(i.profile.name)).resolves.toMatchObject({ name: i.profile.name });
  });
  it('release-gate reads its agents from the file_sd file, tokens from env', async () => {
    const c = await loadCampaign(join(DIR, 'release-gate.yaml'), { env: { BACKHAUL_TOKEN_STORES: 's', BACKHAUL_TOKEN_DC: 'd' } });
    expect(c.agents.map((a) => [a.name, a.url, a.token])).toEqual([
      ['store17', 'http://10.20.17.10:8470', 's'],
      ['store18', 'http://10.20.18.10:8470', 's'],
      ['dc', 'https://dc-edge.example.internal:8470', 'd'],
    ]);
    await expect(loadCampaign(join(DIR, 'release-gate.yaml'), { env: {} })).rejects.toMatchObject({ code: 'ERR_CAMPAIGN_INVALID' });
  });
});
