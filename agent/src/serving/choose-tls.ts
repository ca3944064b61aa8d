import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { apiVersions, compareApiVersions } from '@ingot/protocol';
import type { AgentConfig } from '../config.ts';
import type { System } from '../system/system.ts';
import { createSelfSignedCertificate, type AgentKeyPair } from '../tls/self-signed.ts';

export interface ServedTls {
  /** `configured`: ipa-tls-cert-file and ipa-tls-key-file; `automatic`: a self-signed certificate sent as agent_verify_ca. */
  kind: 'configured' | 'automatic';
  cert: string;
  key: string;
}

export interface ChooseTlsOptions {
  config: Pick<AgentConfig, 'tlsCertFile' | 'tlsKeyFile' | 'enableAutoTls'>;
  /** The conductor's API version, when there is a conductor (automatic TLS needs 1.68, agent_verify_ca). */
  conductorVersion: (() => Promise<string>) | undefined;
  advertiseHost: string;
  /** The key; the agent starts generating it ahead, as it takes seconds on slow CPUs (self-signed.ts). */
  key(): Promise<AgentKeyPair>;
  /**
   * Where the generated key and certificate are written (mode 0700), for
   * whoever debugs the ramdisk or gave --state-dir. Undefined: they stay in
   * memory, so no key of the agent's is ever left on the disk (a run
   * outside the ramdisk, even one killed with SIGKILL).
   */
  stateDir: string | undefined;
  /** Reads the configured certificate and key, writes the generated ones. */
  system: Pick<System, 'readText' | 'writeText' | 'makeDir'>;
  log: Logger;
}

/**
 * IPA's TLS choice (ipa-protocol.md 1.7): the configured certificate when one
 * is given; else automatic TLS when it is enabled and the conductor speaks
 * API 1.68 or later; else plain HTTP.
 */
export async function chooseTls(options: ChooseTlsOptions): Promise<ServedTls | undefined> {
  const { config, log, system } = options;
  if (config.tlsCertFile && config.tlsKeyFile) {
    return { kind: 'configured', cert: await system.readText(config.tlsCertFile), key: await system.readText(config.tlsKeyFile) };
  }
  if (!config.enableAutoTls || !options.conductorVersion) return undefined;
  const version = await options.conductorVersion();
  if (compareApiVersions(version, apiVersions.agentVerifyCa) < 0) {
    log.info({ version }, 'conductor API predates agent_verify_ca (1.68): serving plain HTTP');
    return undefined;
  }
  const generated = createSelfSignedCertificate({ ip: options.advertiseHost, commonName: hostname(), key: await options.key() });
  if (options.stateDir) {
    await system.makeDir(options.stateDir, { mode: 0o700 });
    await system.writeText(join(options.stateDir, 'agent.key'), generated.keyPem, { mode: 0o600 });
    await system.writeText(join(options.stateDir, 'agent.crt'), generated.certPem, { mode: 0o644 });
  }
  return { kind: 'automatic', cert: generated.certPem, key: generated.keyPem };
}
