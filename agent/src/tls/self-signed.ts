import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
}

export interface CertificateOptions {
  /** The advertised address: the certificate's only subjectAltName (1.7). */
  ip: string;
  commonName: string;
  /** Not-before is backdated by this much so a conductor with a skewed clock accepts it (IPA: 3600 s). */
  allowedClockSkewSeconds?: number;
  validDays?: number;
  now?: Date;
}

/**
 * Makes the key and self-signed certificate of automatic TLS. The key is
 * generated natively (RSA 3072; node-forge can sign only with RSA keys, so
 * IPA's EC P-384 is not available here and Ironic verifies either); the
 * certificate is built and signed with node-forge, SHA-512 like IPA.
 */
export function createSelfSignedCertificate(options: CertificateOptions): SelfSignedCertificate {
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // A positive random serial: the high bit of the first byte cleared.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - (options.allowedClockSkewSeconds ?? 3600) * 1000);
  cert.validity.notAfter = new Date(now.getTime() + (options.validDays ?? 30) * 86_400_000);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([{ name: 'subjectAltName', critical: true, altNames: [{ type: 7, ip: options.ip }] }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha512.create());
  // node-forge writes CRLF line ends; Ironic stores the PEM in a file, reads it back with
  // LF and compares it with each later heartbeat's, so CRLF would look like a new certificate.
  return { certPem: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'), keyPem };
}
