/**
 * Self-signed certificates for tests, made with the `openssl` CLI: an EC P-256
 * key and a certificate whose SAN is the IP address, like the one IPA's
 * auto-TLS generates (ipa-protocol.md §1.7).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM certificate; it is its own CA, so it is also what to pin. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

/** Generates a one-day certificate for `ip` (default 127.0.0.1). Needs `openssl` on PATH. */
export function createTestCertificate({ ip = '127.0.0.1', commonName = 'ingot-test' } = {}): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-cert-'));
  try {
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=IP:${ip}`, '-days', '1',
      '-keyout', keyPath, '-out', certPath,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
