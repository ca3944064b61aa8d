import { constants, generateKeyPair, generateKeyPairSync, privateEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

export interface SelfSignedCertificate {
  certPem: string;
  keyPem: string;
}

export interface AgentKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface CertificateOptions {
  /** The advertised address: the certificate's only subjectAltName (1.7). */
  ip: string;
  commonName: string;
  /** A key made beforehand (see generateAgentKey); one is generated when absent. */
  key?: AgentKeyPair;
  /** Not-before is backdated by this much so a conductor with a skewed clock accepts it (IPA: 3600 s). */
  allowedClockSkewSeconds?: number;
  validDays?: number;
  now?: Date;
}

/**
 * RSA 3072: node-forge builds certificates for RSA keys only, so IPA's EC
 * P-384 is not available here; Ironic verifies either.
 */
const KEY_OPTIONS = { modulusLength: 3072 } as const;

/**
 * Generates the agent's key off the event loop (libuv's thread pool). Under
 * QEMU's TCG this takes seconds, so the agent starts it before its lookup and
 * the key is ready when the certificate is needed.
 */
export async function generateAgentKey(): Promise<AgentKeyPair> {
  return promisify(generateKeyPair)('rsa', KEY_OPTIONS);
}

/** DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-512 (RFC 8017 section 9.2, note 1). */
const SHA512_DIGEST_INFO = Buffer.from('3051300d060960864801650304020305000440', 'hex');

/**
 * Makes the self-signed certificate of automatic TLS. node-forge builds the
 * certificate; the SHA-512 RSA signature is computed natively, which is far
 * faster than forge's JavaScript big-number arithmetic.
 */
export function createSelfSignedCertificate(options: CertificateOptions): SelfSignedCertificate {
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = options.key ?? generateKeyPairSync('rsa', KEY_OPTIONS);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
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
  // forge hashes the TBS certificate into `md` and asks the key to sign it.
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const signature = privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA512_DIGEST_INFO, digest]));
      return signature.toString('binary');
    },
  };
  cert.sign(signer as unknown as forge.pki.rsa.PrivateKey, forge.md.sha512.create());
  // node-forge writes CRLF line ends; Ironic stores the PEM in a file, reads it back with
  // LF and compares it with each later heartbeat's, so CRLF would look like a new certificate.
  return { certPem: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'), keyPem };
}
