/**
 * Bearer-token authentication with named tokens.
 *
 * Tokens file (YAML or JSON), name -> token or name -> { token, role }:
 *   ci-pipeline: 3c9f...            # role 'control' (may change things)
 *   grafana: { token: 77ab..., role: read }   # GET only
 * `BACKHAUL_TOKEN` alone gives one token named 'default'. Tokens are compared in constant time
 * (SHA-256 digests through crypto.timingSafeEqual, every token checked). Without any token the agent
 * only starts on a loopback address (every caller is then 'anonymous' with role 'control').
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { BackhaulError } from '../../core/errors.js';

export type Role = 'control' | 'read';

export interface TokenEntry {
  name: string;
  role: Role;
  digest: Buffer;
}

export interface AuthConfig {
  /** null = no authentication (loopback only). */
  tokens: TokenEntry[] | null;
}

const MIN_TOKEN_CHARS = 16;

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function makeToken(name: string, token: string, role: Role = 'control'): TokenEntry {
  if (token.length < MIN_TOKEN_CHARS) {
    throw new BackhaulError('ERR_USAGE', `token "${name}" is too short (at least ${MIN_TOKEN_CHARS} characters)`, { hint: 'generate one with: openssl rand -hex 32' });
  }
  return { name, role, digest: digest(token) };
}

/** Parse a tokens file's text. */
export function parseTokensFile(text: string, file: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new BackhaulError('ERR_USAGE', `${file}: not valid YAML/JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new BackhaulError('ERR_USAGE', `${file}: expected a mapping of name -> token`);
  const out: TokenEntry[] = [];
  for (const [name, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(name)) throw new BackhaulError('ERR_USAGE', `${file}: bad token name ${JSON.stringify(name)}`);
    if (typeof v === 'string') out.push(makeToken(name, v));
    else if (v && typeof v === 'object' && typeof (v as { token?: unknown }).token === 'string') {
      const role = (v as { role?: unknown }).role ?? 'control';
      if (role !== 'control' && role !== 'read') throw new BackhaulError('ERR_USAGE', `${file}: ${name}.role must be control or read`);
      out.push(makeToken(name, (v as { token: string }).token, role));
    } else throw new BackhaulError('ERR_USAGE', `${file}: ${name}: expected a token string or { token, role }`);
  }
  if (out.length === 0) throw new BackhaulError('ERR_USAGE', `${file}: no tokens`);
  return out;
}

export async function loadTokens(file: string | undefined, envToken: string | undefined): Promise<TokenEntry[] | null> {
  const tokens: TokenEntry[] = [];
  if (file) tokens.push(...parseTokensFile(await readFile(file, 'utf8'), file));
  if (envToken) tokens.push(makeToken('default', envToken));
  return tokens.length ? tokens : null;
}

/**
 * Find the token presented in an Authorization header. Constant time in the token's content:
 * every configured token is compared, with no early exit.
 */
export function authenticate(cfg: AuthConfig, header: string | undefined): { name: string; role: Role } {
  if (cfg.tokens === null) return { name: 'anonymous', role: 'control' };
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) throw new BackhaulError('ERR_UNAUTHORIZED', 'missing bearer token', { hint: 'send Authorization: Bearer <token> (CLI: BACKHAUL_TOKEN)' });
  const presented = digest(m[1] as string);
  let found: TokenEntry | null = null;
  for (const t of cfg.tokens) {
    if (timingSafeEqual(presented, t.digest) && found === null) found = t;
  }
  if (!found) throw new BackhaulError('ERR_UNAUTHORIZED', 'wrong bearer token');
  return { name: found.name, role: found.role };
}

/** Loopback addresses: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
