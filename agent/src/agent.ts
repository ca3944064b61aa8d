import type { Logger } from 'pino';
import { IngotError, isIngotError } from '@ingot/protocol';
import { createApi } from './api/create-api.ts';
import { createCommandRunner, type CommandRunner } from './commands/command-runner.ts';
import { defineExtension, type Extension } from './commands/command.ts';
import { createImageExtension } from './commands/image.ts';
import { createPollExtension } from './commands/poll.ts';
import { createRescueExtension } from './commands/rescue.ts';
import { createSystemExtension } from './commands/system.ts';
import { createStandbyExtension } from './commands/standby.ts';
import { createStepExtension } from './commands/step-commands.ts';
import type { AgentConfig } from './config.ts';
import { detectAdvertiseAddress } from './conductor/advertise-address.ts';
import { createConductorApi, type ConductorApi } from './conductor/conductor-api.ts';
import { createLookupLoop, type LookupLoop } from './conductor/lookup-loop.ts';
import type { ImageDownloadSettings } from './deploy/download-settings.ts';
import type { BlockDevices } from './disks/block-devices.ts';
import type { HardwareContext, HardwareManager } from './hardware/manager.ts';
import { createManagerRegistry } from './hardware/registry.ts';
import { bringInterfacesDown } from './halt/network-down.ts';
import { createResponseDrain } from './halt/response-drain.ts';
import { macAddresses, type InventorySource } from './inventory/inventory.ts';
import type { PowerControl } from './power/power-control.ts';
import type { SnapshotDeps } from './snapshot/snapshot-deps.ts';
import { createSnapshotExtension } from './commands/snapshot.ts';
import { isRescued, rescuePaths, type RescuePaths } from './rescue/rescue-files.ts';
import { chooseTls } from './serving/choose-tls.ts';
import { bindApiPort, type BoundPort } from './serving/bind-port.ts';
import { serveApi, type ApiServer } from './serving/serve-api.ts';
import type { AgentPhase, Session } from './session/session.ts';
import type { System } from './system/system.ts';
import { generateAgentKey, type AgentKeyPair } from './tls/self-signed.ts';

export type { AgentPhase } from './session/session.ts';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  system: System;
  devices: BlockDevices;
  inventory: InventorySource;
  power: PowerControl;
  /** What this pairing with the conductor knows; shared with the managers' steps that need it (the generic manager's deploy). */
  session: Session;
  managers: readonly HardwareManager[];
  /** How images are downloaded (`standby.prepare_image`), from ipa-image-download-* and ipa-ca-file. */
  download: ImageDownloadSettings;
  /** The PEM of ipa-ca-file: the conductor's certificate is verified against it instead of the system store. */
  caPem?: string;
  /**
   * Where the TLS key and certificate and the rescue files are written: in
   * the ramdisk /run/ingot, elsewhere --state-dir. Undefined (outside the
   * ramdisk without --state-dir): the key and certificate stay in memory and
   * the rescue files go to a `scratchDir`.
   */
  stateDir?: string;
  /** A directory removed when the process ends, made when first needed (main: under the OS temporary directory). */
  scratchDir?(): Promise<string>;
  version: string;
  /**
   * The snapshot extension's uploader (image/pipeline/http/upload/'s
   * openSnapshotUpload and putJson), agent version and CA; main passes the
   * same object to the generic manager's capture_snapshot step. Without an
   * uploader, snapshot.capture is refused with a 400 saying so.
   */
  snapshot?: SnapshotDeps;
  collectLogs(): Promise<{ system_logs: string }>;
  /** Extra extensions registered by the embedder (tests, custom commands). */
  extensions?: readonly Extension[];
  /**
   * Ends the process: main passes process.exit. Called with 0 once
   * rescue.finalize_rescue's reply is sent and the API stopped, and at start
   * on a rescued node. Default: nothing (an embedder's process goes on).
   */
  exit?(code: number): void;
}

export interface Agent {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly phase: AgentPhase;
  readonly session: Session;
  readonly runner: CommandRunner;
  /** The local port the API listens on, once started. */
  readonly port: number | undefined;
  /** Called after every heartbeat with whether the conductor accepted it; for tests and the demo. */
  onHeartbeat(listener: (ok: boolean) => void): void;
  /** Settles when the lookup loop ends for good (lookup timeout or stop). */
  readonly done: Promise<void>;
}

/** The agent's own version as reported to the conductor (`agent_version`, /v1/status). */
export const AGENT_VERSION = '0.1.0';

/**
 * Wires the agent: the command runner and its extensions, the API server
 * (serving/), and the lookup loop (conductor/lookup-loop.ts), around one
 * Session. It binds its port, looks itself up, serves the API on that port
 * (automatic TLS where the conductor allows it) and heartbeats; when the conductor refuses its token,
 * or after a power action that cut nothing, it forgets its commands and
 * looks up again, as if freshly booted.
 */
export function createAgent(deps: AgentDeps): Agent {
  const { config, log, session } = deps;
  const startedAt = Date.now();
  const beatListeners: Array<(ok: boolean) => void> = [];
  const lifetime = new AbortController();
  let runner!: CommandRunner;
  let server: ApiServer | undefined;
  /** The API's socket, bound before the first lookup; a server takes it once the TLS choice is known. */
  let bound: BoundPort | undefined;
  let loop: LookupLoop | undefined;
  let agentKey: Promise<AgentKeyPair> | undefined;
  let done: Promise<void> = Promise.resolve();
  let halted = false;
  let lockedDownIdle: NodeJS.Timeout | undefined;
  const inRamdisk = deps.devices.guard.mode === 'ramdisk';
  const defaultListenHost = inRamdisk ? '::' : '127.0.0.1';
  const drain = createResponseDrain();
  // Without a state directory there is no earlier rescue to find: a scratch directory is new with each process.
  const knownRescue = inRamdisk || deps.stateDir !== undefined ? rescuePaths({ ramdisk: inRamdisk, stateDir: deps.stateDir ?? '' }) : undefined;
  let scratchRescue: Promise<RescuePaths> | undefined;
  const rescueAt = async (): Promise<RescuePaths> => {
    if (knownRescue) return knownRescue;
    if (!deps.scratchDir) throw new IngotError('INGOT_INTERNAL', { details: 'no state directory to write the rescue files in: give --state-dir' });
    const scratchDir = deps.scratchDir;
    scratchRescue ??= scratchDir().then((dir) => rescuePaths({ ramdisk: false, stateDir: dir }));
    return scratchRescue;
  };

  /**
   * finalize_rescue and lockdown (ipa-protocol.md 1.1, 4.2): once the reply
   * is sent, the API and the heartbeats stop for good.
   */
  const haltAfterReply = (then: () => Promise<void> | void) => {
    if (halted) return;
    halted = true;
    void (async () => {
      await drain.drain(5_000);
      loop?.stop();
      lifetime.abort(new IngotError('INGOT_INTERNAL', { details: 'the agent halted its API' }));
      const closing = server;
      server = undefined;
      await closing?.close();
      await then();
    })().catch((error: unknown) => log.error({ err: error }, 'stopping the API failed'));
  };

  const listen = async (api: ConductorApi | undefined): Promise<void> => {
    if (server || halted) return;
    const handler = drain.wrap(createApi({
      runner, log, version: deps.version, startedAt,
      tokens: { current: () => session.token },
      requireTokenOnGet: config.requireTokenOnGet,
      waitLimitMs: config.commandWaitLimit * 1000,
      bodyLimitBytes: config.apiBodyLimit * 1024 * 1024,
    }));
    const advertiseHost = config.advertiseHost ?? (api
      ? await detectAdvertiseAddress({ apiUrl: api.currentUrl(), system: deps.system, log, attempts: config.ipLookupAttempts, sleepSeconds: config.ipLookupSleep, signal: lifetime.signal })
      : '127.0.0.1');
    const tls = await chooseTls({
      config, advertiseHost, stateDir: deps.stateDir, log, system: deps.system,
      conductorVersion: api ? () => api.discoverVersion() : undefined,
      key: () => agentKey ?? generateAgentKey(),
    });
    server = await serveApi({ config, handler, advertiseHost, tls, log, bound, defaultListenHost });
    session.setListening({ callbackUrl: server.callbackUrl, verifyCa: tls?.kind === 'automatic' ? tls.cert : undefined });
  };

  const run = async () => {
    if (!config.apiUrl || config.apiUrl.length === 0) {
      log.warn('no conductor URL (ipa-api-url): serving the API without lookup or heartbeat (standalone)');
      await listen(undefined);
      session.setPhase('serving');
      return;
    }
    const api = createConductorApi({
      urls: config.apiUrl, insecure: config.insecure, timeoutMs: config.httpRequestTimeout * 1000, log,
      ca: deps.caPem,
      globalRequestId: config.globalRequestId, apiVersion: config.ironicApiVersion,
      minTlsVersion: config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    });
    if (config.insecure) log.warn('ipa-insecure is set: the conductor\'s certificate is NOT verified');
    loop = createLookupLoop({
      api, session, config, log, version: deps.version, signal: lifetime.signal,
      macs: async () => (deps.inventory.lookupMacs ? deps.inventory.lookupMacs() : macAddresses(await deps.inventory.collect())),
      listen: () => listen(api),
      onStartOver: () => runner.reset(),
      onBeat: (ok) => beatListeners.forEach((listener) => listener(ok)),
    });
    await loop.run();
  };

  return {
    get phase() { return session.phase; },
    get session() { return session; },
    get runner() { return runner; },
    get port() { return server?.port ?? bound?.port; },
    get done() { return done; },
    onHeartbeat(listener) { beatListeners.push(listener); },

    async start() {
      if (knownRescue && await isRescued(deps.system, knownRescue)) {
        // IPA does not serve its API again on a rescued node: the rescue user owns it now (4.2).
        log.warn({ marker: knownRescue.marker }, 'this node is rescued: not serving the API; log in as rescue');
        halted = true;
        session.setPhase('stopped');
        deps.exit?.(0);
        return;
      }
      if (config.enableAutoTls && !config.tlsCertFile && config.apiUrl?.length) {
        // Started now, used after the lookup: key generation takes seconds on slow CPUs.
        agentKey = generateAgentKey();
        agentKey.catch(() => undefined);
      }
      const hardware: HardwareContext = { system: deps.system, devices: deps.devices, log };
      const registry = await createManagerRegistry(deps.managers, hardware);
      const stepDeps = {
        registry, hardware, onNode: session.cacheNode,
        // Any step but write_image (which checks the cache itself) may change the disks under a cached image.
        beforeStep: (_kind: string, step: string) => { if (step !== 'write_image') session.recordCachedImage(undefined); },
      };
      const extensions: Extension[] = [
        createStepExtension('clean', stepDeps),
        createStepExtension('deploy', stepDeps),
        createStepExtension('service', stepDeps),
        createStandbyExtension({
          system: deps.system, devices: deps.devices, power: deps.power, session, download: deps.download,
          afterPowerAction: (action) => {
            // A real power cut ends this process; if we are still here, nothing cut it.
            const graceMs = deps.power.simulated ? 100 : 30_000;
            setTimeout(() => {
              if (lifetime.signal.aborted) return;
              const reason = `${action} finished and no power cut followed`;
              if (loop) return loop.startOver(reason, { afterPowerAction: true });
              // Standalone (no conductor): nothing to look up again, but the commands and the session go all the same.
              log.warn({ reason }, 'starting over as freshly booted: forgetting commands');
              runner.reset();
              session.forget({ afterPowerAction: true });
            }, graceMs).unref();
          },
        }),
        createImageExtension({ system: deps.system, devices: deps.devices, session, ignoreBootloaderFailure: config.ignoreBootloaderFailure }),
        createRescueExtension({
          system: deps.system, paths: rescueAt,
          onFinalized: () => haltAfterReply(async () => {
            session.setPhase('stopped');
            log.info({ passwordFile: (await rescueAt()).passwordFile }, 'rescue finalized: the API is stopped; log in as rescue');
            deps.exit?.(0);
          }),
        }),
        createSystemExtension({
          onLockdown: () => haltAfterReply(async () => {
            // Never this host's own interfaces outside the ramdisk.
            const down = inRamdisk ? await bringInterfacesDown(deps.system, log) : [];
            session.setPhase('locked-down');
            // Exiting would let init start a fresh agent; IPA loops for ever instead.
            lockedDownIdle = setInterval(() => undefined, 2 ** 31 - 1);
            log.warn({ interfacesDown: down, network: inRamdisk ? 'down' : 'left up (sandbox: not this agent\'s to take down)' },
              'locked down (system.lockdown): the API and heartbeats are stopped and the agent stays idle until the machine is powered off');
          }),
        }),
        defineExtension('log', [{ name: 'collect_system_logs', mode: 'sync', run: () => deps.collectLogs() }]),
        createSnapshotExtension({ system: deps.system, devices: deps.devices, log, session, ...(deps.snapshot ?? { agentVersion: deps.version, caPem: deps.caPem }) }),
        createPollExtension({ inventory: deps.inventory, session, standalone: !config.apiUrl?.length }),
        ...(deps.extensions ?? []),
      ];
      runner = createCommandRunner({ extensions, log, historyLimit: config.commandHistoryLimit });
      runner.on('async-finished', () => loop?.forceHeartbeat());
      // Before any lookup: a port that cannot be had fails the start here, and the conductor never
      // issues a token to an agent it could not call back (the one line main exits with says why).
      bound = await bindApiPort({ host: config.listenHost ?? defaultListenHost, port: config.listenPort, log });
      done = run().catch((error: unknown) => {
        if (lifetime.signal.aborted) return;
        session.setPhase(isIngotError(error, 'INGOT_LOOKUP_TOKEN_REFUSED') ? 'locked-down' : 'stopped');
        throw error;
      });
      // The caller observes `done`; an embedder that never does must not crash on an unhandled rejection.
      done.catch(() => undefined);
      // Surface start-up failures (e.g. the port is taken) to the caller.
      await Promise.race([done, waitFor(() => session.phase === 'serving' || session.phase === 'looking-up')]);
    },

    async stop() {
      clearInterval(lockedDownIdle);
      lifetime.abort(new IngotError('INGOT_INTERNAL', { details: 'agent stopping' }));
      loop?.stop();
      runner?.reset();
      session.setPhase('stopped');
      await server?.close();
      await bound?.close();
    },
  };
}

function waitFor(predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (predicate() ? resolve() : setTimeout(check, 20));
    check();
  });
}
