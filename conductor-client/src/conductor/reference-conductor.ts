/**
 * A minimal conductor built only on the public API: it serves lookup and
 * heartbeat, and on the first heartbeat of a node waiting to be cleaned it
 * drives automated cleaning through the agent, then, when the node has an
 * image, deploys it (Ironic's whole-disk sequence, as with fast track: the
 * agent that cleaned stays up and keeps its token). No BMC: it never powers
 * nodes itself; the agent's standby.power_off ends a deploy. Like Ironic's
 * `[agent]deploy_logs_collect`, it fetches the ramdisk's logs at the end of
 * cleaning or of the deploy, before the token is wiped. A node given a
 * rescue password is rescued instead (Ironic's RESCUEWAIT): finalize_rescue
 * on the first heartbeat, then the agent stops its API. A node given a
 * snapshot store is snapshotted instead ('servicing', as Ironic's service
 * steps run on an active node): `snapshot.capture` on the first heartbeat,
 * the object completed in the store, then the token wiped.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino, type Logger } from 'pino';
import { IngotError, REDACTED_TOKEN, type CommandProgress, type NodeInfo, type SnapshotCaptureParams, type StepRequest } from '@ingot/protocol';
import {
  AgentClient, createMemoryNodeStore, createNodeRecord, createPairing, createPairingRouter,
  type HeartbeatEvent, type NodeRecord, type NodeStore, type Pairing,
} from '../index.ts';
import { driveCleaning, type CleaningReport } from './clean-driver.ts';
import { driveDeployment, type DeploymentReport } from './deploy-driver.ts';
import { driveRescue, type RescueReport } from './rescue-driver.ts';
import { driveSnapshot, type SnapshotProgress, type SnapshotReport } from './snapshot-driver.ts';
import type { SnapshotStore } from '../snapshot/snapshot-store.ts';
import type { DeployImage } from './image-info.ts';
import type { TargetRaidConfig } from './raid-config-file.ts';
import { collectRamdiskLogs, shouldCollectLogs, type CollectLogsPolicy, type RamdiskLogs, type RunOutcome } from './ramdisk-logs.ts';

export type { CollectLogsPolicy, RamdiskLogs } from './ramdisk-logs.ts';
export type { RaidReport } from './deploy-driver.ts';
export { readRaidConfigFile, type RaidConfigFile, type TargetRaidConfig } from './raid-config-file.ts';
export { describeRaidResult } from './raid-step.ts';
export { driveRescue, type RescueOptions, type RescueReport } from './rescue-driver.ts';
export { buildImageInfo, snapshotDeployImage } from './image-info.ts';
export { diskBytesFromInventory, driveSnapshot, type DriveSnapshotOptions, type SnapshotProgress, type SnapshotReport } from './snapshot-driver.ts';
export { readRescuePassword } from './rescue-password.ts';
export { describeRootDisk, readRootDisk, type PartitionTable, type RootDisk } from './root-disk.ts';

/**
 * Ironic's provision states, the subset this conductor walks through:
 * 'cleaning' (waiting for the agent or running steps) → 'available' or
 * 'clean failed'; with an image, 'cleaning' → 'deploying' → 'active' or
 * 'deploy failed'; with a rescue password, 'rescue wait' → 'rescue' or
 * 'rescue failed'; with a snapshot store, 'servicing' → 'active' or
 * 'service failed'.
 */
export type ReferenceNodeState = 'cleaning' | 'available' | 'clean failed' | 'manageable' | 'deploying' | 'active' | 'deploy failed'
  | 'rescue wait' | 'rescue' | 'rescue failed' | 'servicing' | 'service failed';

export type ReferencePhase = 'clean' | 'deploy' | 'rescue' | 'service';

export interface ReferenceNodeSpec {
  uuid: string;
  name?: string;
  macs: string[];
  allowedAddresses?: string[];
  /** Default 'cleaning'; 'deploying' skips cleaning (the agent's first heartbeat starts the deploy). */
  state?: ReferenceNodeState;
  /** Deploy this whole-disk image after cleaning. */
  deploy?: { image: DeployImage; configdrive?: unknown };
  /** Root device hints, sent as `instance_info.root_device` (ipa-protocol.md §9.10), e.g. `{ name: '/dev/sda' }`. */
  rootDevice?: Record<string, unknown>;
  /**
   * Ironic's target_raid_config (`{logical_disks: [...]}`, ipa-protocol.md
   * §8.1), sent as the node's `target_raid_config` with every command; a
   * deploy then builds it with `raid.apply_configuration` before writing the
   * image, which goes onto the root volume unless `rootDevice` says otherwise.
   */
  raidConfig?: TargetRaidConfig;
  /**
   * Rescue the node instead of cleaning it (the state defaults to 'rescue
   * wait'): its agent's first heartbeat gets finalize_rescue with this
   * password's SHA-512 crypt hash. The plain password stays in memory.
   */
  rescue?: { password: string; requireHashed?: boolean };
  /**
   * Snapshot the node instead of cleaning it (the state defaults to
   * 'servicing'): its agent's first heartbeat gets `snapshot.capture` to the
   * store's short-lived URLs; the store completes the object, or abandons it
   * when anything fails.
   */
  snapshot?: { store: SnapshotStore; capture: Omit<SnapshotCaptureParams, 'target'>; timeoutMs?: number };
}

export interface ReferenceConductorOptions {
  /** Default '127.0.0.1'. */
  listenHost?: string;
  /** Default 6385, Ironic's API port; 0 picks a free one. */
  port?: number;
  nodes: ReferenceNodeSpec[];
  log?: Logger;
  heartbeatTimeout?: number;
  requireTls?: boolean;
  /** Between polls of a running step or image write. Default 2000. */
  pollIntervalMs?: number;
  /** Per HTTP call to the agent. Default 60000. */
  agentTimeoutMs?: number;
  /**
   * When to fetch the ramdisk's logs (`log.collect_system_logs`) before
   * letting go of the agent, as Ironic's `[agent]deploy_logs_collect`:
   * 'on-failure' (the default, as Ironic's) when cleaning or the deploy
   * fails; 'always' also at the end of a successful cleaning and before a
   * successful deploy's power_off; 'never'. The archive comes in the `logs`
   * event, in the report (`logs`) and in the `failed` event. A failed
   * collection is logged and fails nothing.
   */
  collectLogs?: CollectLogsPolicy;
  /** Also write each archive here, under Ironic's file name (its `[agent]deploy_logs_local_path`). Default: not written. */
  logsDir?: string;
}

/** What cleaning did, with the ramdisk's logs when they were collected at its end. */
export interface ReferenceCleaningReport extends CleaningReport {
  logs?: RamdiskLogs;
}

/** What the deploy did, with the ramdisk's logs when they were collected before the power off. */
export interface ReferenceDeploymentReport extends DeploymentReport {
  logs?: RamdiskLogs;
}

export interface ReferenceConductorEvents {
  lookup: [{ uuid: string; tokenIssued: boolean; remoteAddress?: string }];
  heartbeat: [{ uuid: string; callbackUrl: string; agentVersion: string; first: boolean }];
  /** Every provision state change. */
  state: [{ uuid: string; state: ReferenceNodeState; previous: ReferenceNodeState | undefined }];
  /** A clean step, or a deploy step (raid.apply_configuration with a RAID configuration, then write_image), started. */
  'step-start': [{ uuid: string; phase: ReferencePhase; step: StepRequest; index: number; total: number }];
  progress: [{ uuid: string; phase: ReferencePhase; step: StepRequest; progress: CommandProgress | null | undefined }];
  /** `result`: a deploy step's `deploy_result` (apply_configuration's logical disks, write_image's device). */
  'step-done': [{ uuid: string; phase: ReferencePhase; step: StepRequest; index: number; total: number; durationMs: number; result?: unknown }];
  /** The ramdisk's logs were collected; always before the token is wiped. */
  logs: [{ uuid: string; logs: RamdiskLogs }];
  /** `log.collect_system_logs` failed; cleaning or the deploy carries on regardless. */
  'logs-failed': [{ uuid: string; phase: 'clean' | 'deploy'; error: Error }];
  /** Cleaning succeeded. */
  done: [{ uuid: string; report: ReferenceCleaningReport }];
  /** The image is written and verified, partition uuids read, the agent told to power off. */
  deployed: [{ uuid: string; report: ReferenceDeploymentReport; durationMs: number }];
  /** finalize_rescue succeeded and the agent's API stopped: the node's console offers the `rescue` login. */
  rescued: [{ uuid: string; report: RescueReport }];
  /** A snapshot's course: URLs signed, capture progress, captured, completed, abandoned. */
  'snapshot-progress': [{ uuid: string; event: SnapshotProgress }];
  /** The snapshot is stored and complete; the agent's token is wiped. */
  snapshotted: [{ uuid: string; report: SnapshotReport }];
  /** With the ramdisk's logs when the policy collected them and the agent answered. */
  failed: [{ uuid: string; phase: ReferencePhase; error: Error; logs?: RamdiskLogs }];
}

export interface ReferenceConductor extends EventEmitter<ReferenceConductorEvents> {
  /** The API URL to give agents as `ipa-api-url`. */
  readonly url: string;
  readonly store: NodeStore;
  readonly pairing: Pairing;
  state(uuid: string): ReferenceNodeState | undefined;
  /** Resolves when the node's cleaning succeeds, rejects when it fails; never settles for a node that starts in deploying. */
  waitForCleaning(uuid: string): Promise<ReferenceCleaningReport>;
  /** Resolves when the node is active, rejects when cleaning or the deploy fails. */
  waitForDeployment(uuid: string): Promise<ReferenceDeploymentReport>;
  /** Resolves when the node is rescued, rejects when the rescue fails. */
  waitForRescue(uuid: string): Promise<RescueReport>;
  /** Resolves when the snapshot is stored, rejects when it fails. */
  waitForSnapshot(uuid: string): Promise<SnapshotReport>;
  close(): Promise<void>;
}

function agentNode(record: NodeRecord, provisionState: ReferenceNodeState, spec: ReferenceNodeSpec | undefined): NodeInfo {
  // The node as Ironic sends it to the agent: secrets masked (ironic-conductor.md §1).
  return {
    uuid: record.uuid, name: record.name ?? null, provision_state: provisionState, driver_info: {},
    properties: record.properties, instance_info: record.instance_info,
    driver_internal_info: { ...record.driver_internal_info, agent_secret_token: REDACTED_TOKEN, agent_url: record.agentUrl },
    ...(spec?.raidConfig ? { target_raid_config: spec.raidConfig } : {}),
  };
}

const agentPorts = (record: NodeRecord) => record.macs.map((address) => ({
  uuid: randomUUID(), address, node_uuid: record.uuid, pxe_enabled: true, local_link_connection: {},
  physical_network: null, is_smartnic: false, internal_info: {}, extra: {},
}));

/** A promise settled from outside, observed later (so an early rejection is never unhandled). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export async function createReferenceConductor(options: ReferenceConductorOptions): Promise<ReferenceConductor> {
  const log = options.log ?? pino({ level: 'silent' });
  const emitter = new EventEmitter<ReferenceConductorEvents>();
  const states = new Map<string, ReferenceNodeState>();
  const specs = new Map(options.nodes.map((spec) => [spec.uuid, spec]));
  const cleanings = new Map<string, ReturnType<typeof deferred<ReferenceCleaningReport>>>();
  const deployments = new Map<string, ReturnType<typeof deferred<ReferenceDeploymentReport>>>();
  const rescues = new Map<string, ReturnType<typeof deferred<RescueReport>>>();
  const snapshots = new Map<string, ReturnType<typeof deferred<SnapshotReport>>>();
  // Plaintext tokens live only here, in memory, to call the agents; the store keeps hashes.
  const tokens = new Map<string, string>();
  const stop = new AbortController();
  const lookupState = (state: ReferenceNodeState) => state === 'cleaning' || state === 'deploying' || state === 'rescue wait' || state === 'servicing';
  const initialState = (spec: ReferenceNodeSpec): ReferenceNodeState => spec.state ?? (spec.rescue ? 'rescue wait' : spec.snapshot ? 'servicing' : 'cleaning');
  const store = createMemoryNodeStore(options.nodes.map((spec) => createNodeRecord({
    uuid: spec.uuid, name: spec.name, macs: spec.macs, allowedAddresses: spec.allowedAddresses,
    lookupAllowed: lookupState(initialState(spec)),
    instance_info: spec.rootDevice ? { root_device: spec.rootDevice } : {},
  })));
  for (const spec of options.nodes) {
    states.set(spec.uuid, initialState(spec));
    cleanings.set(spec.uuid, deferred<ReferenceCleaningReport>());
    deployments.set(spec.uuid, deferred<ReferenceDeploymentReport>());
    rescues.set(spec.uuid, deferred<RescueReport>());
    snapshots.set(spec.uuid, deferred<SnapshotReport>());
  }

  const setState = (uuid: string, state: ReferenceNodeState) => {
    const previous = states.get(uuid);
    states.set(uuid, state);
    log.info({ node: uuid, state, previous }, 'provision state');
    emitter.emit('state', { uuid, state, previous });
  };

  // Ironic wipes the token and agent URL at the end of cleaning and of a deploy, success or failure.
  async function release(uuid: string): Promise<void> {
    await pairing.revokeToken(uuid).catch((err: unknown) => log.error({ err, node: uuid }, 'could not wipe the token'));
    await store.update(uuid, () => ({ lookupAllowed: false }));
    tokens.delete(uuid);
  }

  /**
   * Fetches the agent's logs when the policy asks for it. Called before
   * release(): only then does the agent still hold a token the conductor
   * accepts, and the agent would drop it at its next refused heartbeat.
   * Never throws (collectRamdiskLogs).
   */
  async function collectLogs(uuid: string, client: AgentClient, phase: 'clean' | 'deploy', outcome: RunOutcome, nodeLog: Logger): Promise<RamdiskLogs | undefined> {
    // A closing conductor leaves the agent alone.
    if (!shouldCollectLogs(options.collectLogs ?? 'on-failure', outcome) || stop.signal.aborted) return undefined;
    const collected = await collectRamdiskLogs({
      client, node: { uuid, name: specs.get(uuid)?.name }, phase, outcome, dir: options.logsDir, log: nodeLog, signal: stop.signal,
    });
    if (collected.error) emitter.emit('logs-failed', { uuid, phase, error: collected.error });
    else emitter.emit('logs', { uuid, logs: collected.logs });
    return collected.logs;
  }

  async function fail(uuid: string, phase: ReferencePhase, error: Error, logs?: RamdiskLogs): Promise<void> {
    await release(uuid);
    setState(uuid, `${phase} failed` as ReferenceNodeState);
    log.error({ node: uuid, err: error }, `${phase === 'clean' ? 'cleaning' : phase} failed`);
    emitter.emit('failed', { uuid, phase, error, ...(logs ? { logs } : {}) });
    if (phase === 'rescue') {
      rescues.get(uuid)?.reject(error);
      return;
    }
    if (phase === 'service') {
      snapshots.get(uuid)?.reject(error);
      return;
    }
    if (phase === 'clean') cleanings.get(uuid)?.reject(error);
    deployments.get(uuid)?.reject(error);
  }

  async function provision(event: HeartbeatEvent): Promise<void> {
    const uuid = event.node.uuid;
    const spec = specs.get(uuid);
    const token = tokens.get(uuid);
    if (!token) {
      const state = states.get(uuid);
      const phase: ReferencePhase = state === 'deploying' ? 'deploy' : state === 'rescue wait' ? 'rescue' : state === 'servicing' ? 'service' : 'clean';
      await fail(uuid, phase, new IngotError(phase === 'deploy' ? 'INGOT_DEPLOYMENT_FAILED' : phase === 'clean' ? 'INGOT_CLEANING_FAILED' : 'INGOT_COMMAND_FAILED', { details: 'no token for this agent in memory (issued before this conductor started?); reboot the agent' }));
      return;
    }
    const nodeLog = log.child({ node: uuid });
    const client = new AgentClient({ url: event.callbackUrl, token, ca: event.agentVerifyCa, timeoutMs: options.agentTimeoutMs, log: nodeLog });
    // Every failure below is met while the agent still holds its token: its logs are taken first, then fail() wipes it.
    const failWithLogs = async (phase: 'clean' | 'deploy', error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      await fail(uuid, phase, failure, await collectLogs(uuid, client, phase, 'failure', nodeLog));
    };
    try {
      if (states.get(uuid) === 'rescue wait') {
        await rescue(uuid, client, spec, nodeLog);
        return;
      }
      if (states.get(uuid) === 'servicing') {
        await snapshot(uuid, client, spec, nodeLog);
        return;
      }
      if (states.get(uuid) === 'cleaning') {
        let cleaned: CleaningReport;
        try {
          cleaned = await driveCleaning({
            client, node: agentNode(event.node, 'cleaning', spec), ports: agentPorts(event.node), log: nodeLog, signal: stop.signal,
            pollIntervalMs: options.pollIntervalMs,
            onProgress: (progress) => {
              if (progress.type === 'step-start') emitter.emit('step-start', { uuid, phase: 'clean', step: progress.step, index: progress.index, total: progress.total });
              if (progress.type === 'progress') emitter.emit('progress', { uuid, phase: 'clean', step: progress.step, progress: progress.progress });
              if (progress.type === 'step-done') emitter.emit('step-done', { uuid, phase: 'clean', step: progress.step, index: progress.index, total: progress.total, durationMs: progress.durationMs, result: progress.result });
            },
          });
        } catch (error) {
          await failWithLogs('clean', error);
          return;
        }
        // Ironic collects at the end of cleaning before tear_down_cleaning, so before the token goes below.
        const logs = await collectLogs(uuid, client, 'clean', 'success', nodeLog);
        const report: ReferenceCleaningReport = { ...cleaned, ...(logs ? { logs } : {}) };
        // With an image to deploy the agent stays up with its token (Ironic's fast track); otherwise cleaning ends here.
        if (!spec?.deploy) await release(uuid);
        setState(uuid, 'available');
        emitter.emit('done', { uuid, report });
        cleanings.get(uuid)?.resolve(report);
        if (!spec?.deploy) return;
        setState(uuid, 'deploying');
      }
      if (states.get(uuid) !== 'deploying') return;
      if (!spec?.deploy) {
        await failWithLogs('deploy', new IngotError('INGOT_DEPLOYMENT_FAILED', { details: 'the node has no image to deploy; give it one (deploy.image)' }));
        return;
      }
      const started = Date.now();
      const node = await store.get(uuid) ?? event.node;
      try {
        let logs: RamdiskLogs | undefined;
        const deployed = await driveDeployment({
          client, node: agentNode(node, 'deploying', spec), ports: agentPorts(node), image: spec.deploy.image, configdrive: spec.deploy.configdrive,
          ...(spec.raidConfig ? { raidConfig: spec.raidConfig } : {}),
          log: nodeLog, signal: stop.signal, pollIntervalMs: options.pollIntervalMs,
          onProgress: (progress) => {
            if (progress.type === 'step-start') emitter.emit('step-start', { uuid, phase: 'deploy', step: progress.step, index: progress.index, total: progress.total });
            if (progress.type === 'progress') emitter.emit('progress', { uuid, phase: 'deploy', step: progress.step, progress: progress.progress });
            if (progress.type === 'step-done') emitter.emit('step-done', { uuid, phase: 'deploy', step: progress.step, index: progress.index, total: progress.total, durationMs: progress.durationMs, result: progress.result });
          },
          // Ironic's tear_down_agent: the logs while the agent is still up, then power_off.
          beforeTearDown: async () => { logs = await collectLogs(uuid, client, 'deploy', 'success', nodeLog); },
        });
        const report: ReferenceDeploymentReport = { ...deployed, ...(logs ? { logs } : {}) };
        await release(uuid);
        setState(uuid, 'active');
        emitter.emit('deployed', { uuid, report, durationMs: Date.now() - started });
        deployments.get(uuid)?.resolve(report);
      } catch (error) {
        await failWithLogs('deploy', error);
      }
    } finally {
      client.close();
    }
  }

  /** Ironic's RESCUEWAIT heartbeat: finalize_rescue, then the agent is gone and the node rescued. */
  async function rescue(uuid: string, client: AgentClient, spec: ReferenceNodeSpec | undefined, nodeLog: Logger): Promise<void> {
    if (!spec?.rescue) {
      await fail(uuid, 'rescue', new IngotError('INGOT_COMMAND_FAILED', { details: 'the node has no rescue password; give it one (rescue.password)' }));
      return;
    }
    try {
      const report = await driveRescue({
        client, password: spec.rescue.password, requireHashed: spec.rescue.requireHashed, log: nodeLog, signal: stop.signal,
        pollIntervalMs: Math.min(options.pollIntervalMs ?? 2000, 1000), stopTimeoutMs: options.agentTimeoutMs,
      });
      // The agent no longer serves: nothing to collect, and its token has no further use.
      await release(uuid);
      setState(uuid, 'rescue');
      emitter.emit('rescued', { uuid, report });
      rescues.get(uuid)?.resolve(report);
    } catch (error) {
      // Ironic's deploy_logs_collect covers cleaning and deploys only.
      await fail(uuid, 'rescue', error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** A snapshot of the node's disk through its agent, into the spec's store (issue 13). */
  async function snapshot(uuid: string, client: AgentClient, spec: ReferenceNodeSpec | undefined, nodeLog: Logger): Promise<void> {
    if (!spec?.snapshot) {
      await fail(uuid, 'service', new IngotError('INGOT_COMMAND_FAILED', { details: 'the node has no snapshot store; give it one (snapshot.store)' }));
      return;
    }
    try {
      const report = await driveSnapshot({
        client, store: spec.snapshot.store, capture: spec.snapshot.capture, log: nodeLog, signal: stop.signal,
        pollIntervalMs: options.pollIntervalMs, timeoutMs: spec.snapshot.timeoutMs,
        onProgress: (event) => emitter.emit('snapshot-progress', { uuid, event }),
      });
      await release(uuid);
      setState(uuid, 'active');
      emitter.emit('snapshotted', { uuid, report });
      snapshots.get(uuid)?.resolve(report);
    } catch (error) {
      await fail(uuid, 'service', error instanceof Error ? error : new Error(String(error)));
    }
  }

  const running = new Set<string>();
  const pairing = createPairing({
    store, log, heartbeatTimeout: options.heartbeatTimeout, requireTls: options.requireTls,
    onTokenIssued: (uuid, token) => tokens.set(uuid, token),
    onLookup: ({ node, tokenIssued, remoteAddress }) => emitter.emit('lookup', { uuid: node.uuid, tokenIssued, remoteAddress }),
    onHeartbeat: (event) => {
      const uuid = event.node.uuid;
      emitter.emit('heartbeat', { uuid, callbackUrl: event.callbackUrl, agentVersion: event.agentVersion, first: event.first });
      // Heartbeats are Ironic's clock; here the first one starts the work and polling does the rest.
      if (!lookupState(states.get(uuid) ?? 'manageable') || running.has(uuid)) return;
      running.add(uuid);
      return provision(event).finally(() => running.delete(uuid));
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(createPairingRouter(pairing, { log }));
  const server: Server = app.listen(options.port ?? 6385, options.listenHost ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return Object.assign(emitter, {
    url: `http://${host}:${address.port}`,
    store,
    pairing,
    state: (uuid: string) => states.get(uuid),
    waitForCleaning: (uuid: string) => cleanings.get(uuid)?.promise ?? Promise.reject(new IngotError('INGOT_NODE_NOT_FOUND', { details: uuid })),
    waitForDeployment: (uuid: string) => deployments.get(uuid)?.promise ?? Promise.reject(new IngotError('INGOT_NODE_NOT_FOUND', { details: uuid })),
    waitForRescue: (uuid: string) => rescues.get(uuid)?.promise ?? Promise.reject(new IngotError('INGOT_NODE_NOT_FOUND', { details: uuid })),
    waitForSnapshot: (uuid: string) => snapshots.get(uuid)?.promise ?? Promise.reject(new IngotError('INGOT_NODE_NOT_FOUND', { details: uuid })),
    close: () => new Promise<void>((resolve) => {
      stop.abort(new Error('conductor closing'));
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  });
}
