import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { apiVersions, compareApiVersions, IngotError, isIngotError, REDACTED_TOKEN, type LookupResponse, type NodeInfo } from '@ingot/protocol';
import { createApi } from './api/create-api.ts';
import { createCommandRunner, type CommandRunner } from './commands/command-runner.ts';
import { defineExtension, type Extension } from './commands/command.ts';
import { createImageExtension } from './commands/image.ts';
import { createStandbyExtension } from './commands/standby.ts';
import { createStepExtension } from './commands/step-commands.ts';
import type { AgentConfig } from './config.ts';
import { detectAdvertiseAddress } from './conductor/advertise-address.ts';
import { createConductorApi, type ConductorApi } from './conductor/conductor-api.ts';
import { createHeartbeater, type Heartbeater } from './conductor/heartbeater.ts';
import { lookupBackoffSeconds, lookupNode } from './conductor/lookup.ts';
import type { BlockDevices } from './disks/block-devices.ts';
import type { HardwareContext, HardwareManager } from './hardware/manager.ts';
import { createManagerRegistry } from './hardware/registry.ts';
import type { ImageDeployHooks, ImageDownloadSettings } from './deploy/deploy-hooks.ts';
import { macAddresses, type InventorySource } from './inventory/inventory.ts';
import type { PowerControl } from './power/power-control.ts';
import type { System } from './system/system.ts';
import { createSelfSignedCertificate, generateAgentKey, type AgentKeyPair } from './tls/self-signed.ts';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  system: System;
  devices: BlockDevices;
  inventory: InventorySource;
  power: PowerControl;
  managers: readonly HardwareManager[];
  /** Where the TLS key and certificate are written. */
  stateDir: string;
  version: string;
  collectLogs(): Promise<{ system_logs: string }>;
  /** Extra extensions registered by the embedder (tests, custom commands). */
  extensions?: readonly Extension[];
}

export type AgentPhase = 'starting' | 'looking-up' | 'serving' | 'locked-down' | 'stopped';

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly phase: AgentPhase;
  readonly node: NodeInfo | undefined;
  readonly runner: CommandRunner;
  /** The local port the API listens on, once started. */
  readonly port: number | undefined;
  /** Resolves when the first heartbeat was accepted after each (re-)lookup; for tests and the demo. */
  onHeartbeat(listener: (ok: boolean) => void): void;
  /** Settles when the lookup loop ends for good (lookup timeout or stop). */
  readonly done: Promise<void>;
}

/** The agent's own version as reported to the conductor (`agent_version`, /v1/status). */
export const AGENT_VERSION = '0.1.0';

/**
 * Builds the agent from its dependencies. It looks itself up, serves the
 * API (automatic TLS where the conductor allows it) and heartbeats; when the
 * conductor refuses its token, or after a power action that cut nothing, it
 * forgets its commands and looks up again, as if freshly booted.
 */
export function createAgent(deps: AgentDeps): Agent {
  const { config, log } = deps;
  const startedAt = Date.now();
  let token: string | undefined = config.agentToken;
  let node: NodeInfo | undefined;
  let phase: AgentPhase = 'starting';
  let server: http.Server | https.Server | undefined;
  let port: number | undefined;
  let callbackUrl: string | undefined;
  let verifyCa: string | undefined;
  let heartbeater: Heartbeater | undefined;
  let partitionUuids: Record<string, unknown> = {};
  let md5Allowed = false;
  let biosBootloaderAllowed = false;
  const beatListeners: Array<(ok: boolean) => void> = [];
  const lifetime = new AbortController();
  let restart: (() => void) | undefined;
  /** Set when this agent starts over after its own power_off/run_image (see serveLoop). */
  let powerActionAt: number | undefined;
  let agentKey: Promise<AgentKeyPair> | undefined;

  // IPA's image download settings (ipa-protocol.md 9.4); https image URLs trust ipa-ca-file as IPA's cafile does.
  const imageDownload: ImageDownloadSettings = {
    write: {
      stallTimeoutMs: config.imageDownloadConnectionTimeout * 1000,
      retries: config.imageDownloadConnectionRetries,
      backoff: { initialMs: Math.min(1000, config.imageDownloadConnectionRetryInterval * 1000), maxMs: config.imageDownloadConnectionRetryInterval * 1000, factor: 2 },
      totalTimeoutMs: config.imageDownloadMaxDuration * 1000,
      ...(config.imageStagingDir ? { stagingDir: config.imageStagingDir } : {}),
    },
  };
  const imageDeploy: ImageDeployHooks = {
    recordPartitionUuids: (uuids) => { partitionUuids = { ...uuids }; },
    md5Allowed: () => md5Allowed,
    download: () => imageDownload,
  };
  const hardware: HardwareContext = { system: deps.system, devices: deps.devices, log, imageDeploy };
  let runner!: CommandRunner;

  const startOver = (reason: string, afterPowerAction = false) => {
    log.warn({ reason }, 'starting over as freshly booted: forgetting commands and looking up again');
    powerActionAt = afterPowerAction ? Date.now() : undefined;
    heartbeater?.stop();
    heartbeater = undefined;
    runner.reset();
    token = config.agentToken; // a pre-set (virtual media) token survives, as Ironic keeps pregenerated ones
    node = undefined;
    partitionUuids = {};
    restart?.();
  };

  const listen = async (api: ConductorApi | undefined): Promise<void> => {
    if (server) return;
    const app = createApi({
      runner, log, version: deps.version, startedAt,
      tokens: { current: () => token },
      requireTokenOnGet: config.requireTokenOnGet,
      waitLimitMs: config.commandWaitLimit * 1000,
    });
    const advertiseHost = config.advertiseHost ?? (api
      ? await detectAdvertiseAddress({ apiUrl: api.currentUrl(), system: deps.system, log, attempts: config.ipLookupAttempts, sleepSeconds: config.ipLookupSleep, signal: lifetime.signal })
      : '127.0.0.1');
    const tls = await chooseTls(api, advertiseHost);
    const minVersion = config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2';
    server = tls ? https.createServer({ cert: tls.cert, key: tls.key, minVersion }, app) : http.createServer(app);
    const listenHost = config.listenHost ?? (deps.devices.guard.mode === 'ramdisk' ? '::' : '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server!.once('error', (error) => reject(new IngotError('INGOT_CONFIG_INVALID', { details: `cannot listen on ${listenHost}:${config.listenPort}: ${error.message}`, cause: error })));
      server!.listen(config.listenPort, listenHost, resolve);
    });
    port = (server.address() as AddressInfo).port;
    const protocol = tls ? 'https' : config.advertiseProtocol;
    const host = advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost;
    callbackUrl = `${protocol}://${host}:${config.advertisePort ?? port}`;
    log.info({ listen: `${listenHost}:${port}`, callbackUrl, tls: tls ? tls.kind : 'none' }, 'agent API listening');
  };

  const chooseTls = async (api: ConductorApi | undefined, advertiseHost: string) => {
    if (config.tlsCertFile && config.tlsKeyFile) {
      return { kind: 'configured', cert: await readFile(config.tlsCertFile, 'utf8'), key: await readFile(config.tlsKeyFile, 'utf8') };
    }
    if (!config.enableAutoTls || !api) return undefined;
    const version = await api.discoverVersion();
    if (compareApiVersions(version, apiVersions.agentVerifyCa) < 0) {
      log.info({ version }, 'conductor API predates agent_verify_ca (1.68): serving plain HTTP');
      return undefined;
    }
    const generated = createSelfSignedCertificate({ ip: advertiseHost, commonName: hostname(), key: await (agentKey ?? generateAgentKey()) });
    await mkdir(deps.stateDir, { recursive: true, mode: 0o700 });
    await writeFile(join(deps.stateDir, 'agent.key'), generated.keyPem, { mode: 0o600 });
    await writeFile(join(deps.stateDir, 'agent.crt'), generated.certPem, { mode: 0o644 });
    verifyCa = generated.certPem;
    return { kind: 'automatic', cert: generated.certPem, key: generated.keyPem };
  };

  const applyLookup = (found: LookupResponse) => {
    node = found.node;
    md5Allowed = found.config.agent_md5_checksum_enable === true;
    // IPA honours the override only when truthy (ipa-protocol.md 2, lookup config).
    if (found.config.enable_bios_bootloader_install) biosBootloaderAllowed = true;
    const offered = found.config.agent_token;
    if (typeof offered === 'string' && offered !== REDACTED_TOKEN && offered.length >= 32) {
      token = offered;
      log.info('received the agent token from the lookup');
    } else if (offered === REDACTED_TOKEN) {
      if (!token) {
        throw new IngotError('INGOT_LOOKUP_TOKEN_REFUSED', {
          details: 'the conductor says a token was already issued ("******") and this agent holds none: it was restarted behind the conductor\'s back; power-cycle the node from the conductor so a new token is issued',
        });
      }
      log.warn('the conductor withheld the token ("******"); keeping the one already held');
    } else if (offered) {
      log.warn('the lookup offered a token shorter than 32 characters; ignoring it');
    }
  };

  const serveLoop = async () => {
    const caPem = config.caFile ? await readFile(config.caFile, 'utf8') : undefined;
    if (caPem) imageDownload.caPem = caPem;
    if (!config.apiUrl || config.apiUrl.length === 0) {
      log.warn('no conductor URL (ipa-api-url): serving the API without lookup or heartbeat (standalone)');
      await listen(undefined);
      phase = 'serving';
      return;
    }
    const api = createConductorApi({
      urls: config.apiUrl, insecure: config.insecure, timeoutMs: config.httpRequestTimeout * 1000, log,
      ca: caPem,
      globalRequestId: config.globalRequestId, apiVersion: config.ironicApiVersion,
      minTlsVersion: config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    });
    if (config.insecure) log.warn('ipa-insecure is set: the conductor\'s certificate is NOT verified');
    let withheldAttempt = 0;
    for (;;) {
      phase = 'looking-up';
      const macs = deps.inventory.lookupMacs ? await deps.inventory.lookupMacs() : macAddresses(await deps.inventory.collect());
      const found = await lookupNode({
        api, macs, nodeUuid: node?.uuid, log, signal: lifetime.signal,
        timeoutSeconds: config.lookupTimeout, intervalSeconds: Math.max(1, config.lookupInterval),
      });
      // After standby.power_off or run_image that cut no power (a simulated
      // machine), the conductor may not have power-cycled the node yet: Ironic
      // first polls the BMC, then powers off and only then wipes the token
      // (ironic-conductor.md §4, tear_down_agent). Until then a lookup still
      // finds the node and withholds the token ("******"). A real machine would
      // still be off: ask again later instead of locking down, within the
      // lookup timeout.
      if (powerActionAt !== undefined && !token && found.config.agent_token === REDACTED_TOKEN
        && Date.now() - powerActionAt < config.lookupTimeout * 1000) {
        withheldAttempt += 1;
        const waitSeconds = lookupBackoffSeconds(withheldAttempt, Math.max(1, config.lookupInterval));
        log.info({ attempt: withheldAttempt, waitSeconds: Number(waitSeconds.toFixed(1)) }, 'the conductor still holds the token of before the power action; looking up again later');
        await sleepUnlessAborted(waitSeconds * 1000, lifetime.signal);
        if (lifetime.signal.aborted) return;
        continue;
      }
      powerActionAt = undefined;
      withheldAttempt = 0;
      applyLookup(found);
      await listen(api);
      phase = 'serving';
      const restarted = new Promise<void>((resolve) => { restart = resolve; });
      heartbeater = createHeartbeater({
        api, log, nodeUuid: found.node.uuid,
        heartbeatTimeoutSeconds: Number(found.config.heartbeat_timeout) || 300,
        body: () => ({ callback_url: callbackUrl!, agent_token: token ?? null, agent_version: deps.version, ...(verifyCa ? { agent_verify_ca: verifyCa } : {}) }),
        onTokenRefused: (reason) => startOver(`heartbeat token refused: ${reason}`),
        onBeat: (ok) => beatListeners.forEach((listener) => listener(ok)),
      });
      heartbeater.start();
      await Promise.race([restarted, new Promise((resolve) => lifetime.signal.addEventListener('abort', resolve, { once: true }))]);
      if (lifetime.signal.aborted) return;
    }
  };

  let done: Promise<void> = Promise.resolve();

  return {
    get phase() { return phase; },
    get node() { return node; },
    get runner() { return runner; },
    get port() { return port; },
    get done() { return done; },
    onHeartbeat(listener) { beatListeners.push(listener); },

    async start() {
      if (config.enableAutoTls && !config.tlsCertFile && config.apiUrl?.length) {
        // Started now, used after the lookup: key generation takes seconds on slow CPUs.
        agentKey = generateAgentKey();
        agentKey.catch(() => undefined);
      }
      const registry = await createManagerRegistry(deps.managers, hardware);
      const extensions: Extension[] = [
        createStepExtension('clean', { registry, hardware, onNode: (value) => { node = value; } }),
        createStepExtension('deploy', { registry, hardware, onNode: (value) => { node = value; } }),
        createStepExtension('service', { registry, hardware, onNode: (value) => { node = value; } }),
        createStandbyExtension({
          system: deps.system, devices: deps.devices, power: deps.power,
          partitionUuids: () => partitionUuids,
          recordPartitionUuids: imageDeploy.recordPartitionUuids,
          md5Allowed: imageDeploy.md5Allowed,
          download: imageDeploy.download,
          node: () => node,
          afterPowerAction: (action) => {
            // A real power cut ends this process; if we are still here, nothing cut it.
            const graceMs = deps.power.simulated ? 100 : 30_000;
            setTimeout(() => { if (!lifetime.signal.aborted) startOver(`${action} finished and no power cut followed`, true); }, graceMs).unref();
          },
        }),
        createImageExtension({
          system: deps.system, devices: deps.devices, node: () => node, biosBootloaderAllowed: () => biosBootloaderAllowed,
          ignoreBootloaderFailure: config.ignoreBootloaderFailure,
        }),
        defineExtension('log', [{ name: 'collect_system_logs', mode: 'sync', run: () => deps.collectLogs() }]),
        defineExtension('poll', [{ name: 'get_hardware_info', mode: 'sync', run: () => deps.inventory.collect() }]),
        ...(deps.extensions ?? []),
      ];
      runner = createCommandRunner({ extensions, log, historyLimit: config.commandHistoryLimit });
      runner.on('async-finished', () => heartbeater?.force());
      done = serveLoop().catch((error: unknown) => {
        if (lifetime.signal.aborted) return;
        phase = isIngotError(error, 'INGOT_LOOKUP_TOKEN_REFUSED') ? 'locked-down' : 'stopped';
        throw error;
      });
      // The caller observes `done`; an embedder that never does must not crash on an unhandled rejection.
      done.catch(() => undefined);
      // Surface start-up failures (e.g. the port is taken) to the caller.
      await Promise.race([done, waitFor(() => phase === 'serving' || phase === 'looking-up')]);
    },

    async stop() {
      lifetime.abort(new IngotError('INGOT_INTERNAL', { details: 'agent stopping' }));
      heartbeater?.stop();
      runner?.reset();
      phase = 'stopped';
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections?.();
    },
  };
}

function waitFor(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (predicate() ? resolve() : setTimeout(check, 20));
    check();
  });
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
