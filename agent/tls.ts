/**
 * TLS material for the agent: the operator's cert/key files, or a self-signed certificate
 * (`--tls-self-signed`) generated once with openssl into the state directory and reused, whose
 * SHA-256 fingerprint the agent prints so clients can pin it (`--agent-fingerprint`, or
 * `fingerprint256` in the typed client).
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { BackhaulError } from '../core/errors.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
  fingerprint256: string;
}

export function fingerprintOf(certPem: Buffer | string): string {
  return new X509Certificate(certPem).fingerprint256;
}

export async function loadTls(certFile: string, keyFile: string): Promise<TlsMaterial> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return { cert, key, fingerprint256: fingerprintOf(cert) };
  } catch (e) {
    throw new BackhaulError('ERR_USAGE', `cannot load the TLS certificate/key (${certFile}, ${keyFile}): ${(e as Error).message}`);
  }
}

/** A self-signed P-256 certificate in `dir` (created once, then reused), for `names` (DNS or IP). */
export async function selfSignedTls(dir: string, names: string[] = []): Promise<TlsMaterial> {
  const certFile = join(dir, 'agent-self-signed.crt');
  const keyFile = join(dir, 'agent-self-signed.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const sans = [...new Set(['localhost', hostname(), ...names])].filter((n) => /^[A-Za-z0-9.:-]+$/.test(n));
    const san = ['IP:127.0.0.1', 'IP:::1', ...sans.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`))].join(',');
    const r = await execa('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
      '-days', '825', '-subj', '/CN=backhaul-agent', '-addext', `subjectAltName=${san}`,
    ], { reject: false, timeout: 30_000 }).catch((e: Error) => ({ exitCode: -1, stderr: e.message, code: (e as NodeJS.ErrnoException).code }));
    if (r.exitCode !== 0) {
      const missing = (r as { code?: string }).code === 'ENOENT';
      throw new BackhaulError(missing ? 'ERR_CAPABILITY_MISSING' : 'ERR_INTERNAL', missing ? 'openssl is not installed (needed for --tls-self-signed)' : `openssl could not create a certificate: ${String(r.stderr).trim()}`, {
        hint: missing ? 'apt-get install openssl, or pass --tls-cert/--tls-key' : 'pass --tls-cert/--tls-key',
      });
    }
  }
  return loadTls(certFile, keyFile);
}
