import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from './self-signed.ts';

describe('createSelfSignedCertificate', () => {
  const now = new Date('2026-11-24T12:00:00Z');
  const { certPem, keyPem } = createSelfSignedCertificate({ ip: '127.0.0.1', commonName: 'node-1', now });
  const cert = new X509Certificate(certPem);

  it('names the advertised address as the only subjectAltName and is self-signed', () => {
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(cert.subject).toBe('CN=node-1');
    expect(cert.issuer).toBe('CN=node-1');
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('writes the PEM with LF line ends, as Ironic compares it with the copy it stored', () => {
    expect(certPem).not.toContain('\r');
    expect(certPem.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
  });

  it('is valid from an hour before now for 30 days, like IPA', () => {
    expect(new Date(cert.validFrom).getTime()).toBe(now.getTime() - 3_600_000);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 30 * 86_400_000);
  });

  it('lets a client that pins it reach the server by IP, and a client that does not is refused', async () => {
    const fresh = createSelfSignedCertificate({ ip: '127.0.0.1', commonName: 'node-1' });
    const server = https.createServer({ cert: fresh.certPem, key: fresh.keyPem }, (_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const get = (ca?: string) => new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/', ca }, (res) => { let body = ''; res.on('data', (c) => { body += c; }); res.on('end', () => resolve(body)); }).on('error', reject);
    });
    try {
      await expect(get(fresh.certPem)).resolves.toBe('ok');
      await expect(get(certPem)).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    } finally {
      server.close();
    }
    expect(keyPem).toContain('BEGIN PRIVATE KEY');
  });
});
