/**
 * A minimal conductor built only on the public API: it serves lookup and
 * heartbeat, and on the first heartbeat of a node waiting to be cleaned it
 * drives automated cleaning through the agent. No BMC: it never powers nodes.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino, type Logger } from 'pino';
import { IngotError, REDACTED_TOKEN, type CommandProgress, type NodeInfo, type StepRequest } from '@ingot/protocol';
import {
  AgentClient, createMemoryNodeStore, createNodeRecord, createPairing, createPairingRouter,
  type HeartbeatEvent, type NodeRecord, type NodeStore, type Pairing,
} from '../index.ts';
import { driveCleaning, type CleaningReport } from './clean-driver.ts';

/** 'cleaning': waiting for the agent or running steps; then 'available' or 'clean failed'. */
export type ReferenceNodeState = 'cleaning' | 'available' | 'clean failed' | 'manageable';

export interface ReferenceNodeSpec {
  uuid: string;
  name?: string;
  macs: string[];
  allowedAddresses?: string[];
  /** Default 'cleaning'. */
  state?: ReferenceNodeState;
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
  /** Between polls of a running step. Default 2000. */
  pollIntervalMs?: number;
  /** Per HTTP call to the agent. Default 60000. */
  agentTimeoutMs?: number;
}

export interface ReferenceConductorEvents {
  lookup: [{ uuid: string; tokenIssued: boolean; remoteAddress?: string }];
  heartbeat: [{ uuid: string; callbackUrl: string; agentVersion: string; first: boolean }];
  'step-start': [{ uuid: string; step: StepRequest; index: number; total: number }];
  progress: [{ uuid: string; step: StepRequest; progress: CommandProgress | null | undefined }];
  'step-done': [{ uuid: string; step: StepRequest; index: number; total: number; durationMs: number }];
  done: [{ uuid: string; report: CleaningReport }];
  failed: [{ uuid: string; error: Error }];
}

export interface ReferenceConductor extends EventEmitter<ReferenceConductorEvents> {
  /** The API URL to give agents as `ipa-api-url`. */
  readonly url: string;
  readonly store: NodeStore;
  readonly pairing: Pairing;
  state(uuid: string): ReferenceNodeState | undefined;
  /** Resolves when the node's cleaning succeeds, rejects when it fails. */
  waitForCleaning(uuid: string): Promise<CleaningReport>;
  close(): Promise<void>;
}

function agentNode(record: NodeRecord): NodeInfo {
  // The node as Ironic sends it to the agent: secrets masked (ironic-conductor.md §1).
  return {
    uuid: record.uuid, name: record.name ?? null, provision_state: 'cleaning', driver_info: {},
    properties: record.properties, instance_info: record.instance_info,
    driver_internal_info: { ...record.driver_internal_info, agent_secret_token: REDACTED_TOKEN, agent_url: record.agentUrl },
  };
}

const agentPorts = (record: NodeRecord) => record.macs.map((address) => ({
  uuid: randomUUID(), address, node_uuid: record.uuid, pxe_enabled: true, local_link_connection: {},
  physical_network: null, is_smartnic: false, internal_info: {}, extra: {},
}));

export async function createReferenceConductor(options: ReferenceConductorOptions): Promise<ReferenceConductor> {
  const log = options.log ?? pino({ level: 'silent' });
  const emitter = new EventEmitter<ReferenceConductorEvents>();
  const states = new Map<string, ReferenceNodeState>();
  const outcomes = new Map<string, Promise<CleaningReport>>();
  const settle = new Map<string, { resolve: (r: CleaningReport) => void; reject: (e: Error) => void }>();
  // Plaintext tokens live only here, in memory, to call the agents; the store keeps hashes.
  const tokens = new Map<string, string>();
  const stop = new AbortController();
  const store = createMemoryNodeStore(options.nodes.map((spec) => createNodeRecord({
    uuid: spec.uuid, name: spec.name, macs: spec.macs, allowedAddresses: spec.allowedAddresses,
    lookupAllowed: (spec.state ?? 'cleaning') === 'cleaning',
  })));
  for (const spec of options.nodes) {
    states.set(spec.uuid, spec.state ?? 'cleaning');
    const outcome = new Promise<CleaningReport>((resolve, reject) => settle.set(spec.uuid, { resolve, reject }));
    outcome.catch(() => undefined); // observed through waitForCleaning and 'failed'
    outcomes.set(spec.uuid, outcome);
  }

  async function finish(uuid: string, outcome: { report: CleaningReport } | { error: Error }): Promise<void> {
    // Ironic wipes the token and agent URL at the end of cleaning, success or failure.
    await pairing.revokeToken(uuid).catch((err: unknown) => log.error({ err, node: uuid }, 'could not wipe the token'));
    await store.update(uuid, () => ({ lookupAllowed: false }));
    tokens.delete(uuid);
    if ('report' in outcome) {
      states.set(uuid, 'available');
      emitter.emit('done', { uuid, report: outcome.report });
      settle.get(uuid)?.resolve(outcome.report);
    } else {
      states.set(uuid, 'clean failed');
      log.error({ node: uuid, err: outcome.error }, 'cleaning failed');
      emitter.emit('failed', { uuid, error: outcome.error });
      settle.get(uuid)?.reject(outcome.error);
    }
  }

  async function clean(event: HeartbeatEvent): Promise<void> {
    const uuid = event.node.uuid;
    const token = tokens.get(uuid);
    if (!token) {
      await finish(uuid, { error: new IngotError('INGOT_CLEANING_FAILED', { details: 'no token for this agent in memory (issued before this conductor started?); reboot the agent' }) });
      return;
    }
    const nodeLog = log.child({ node: uuid });
    const client = new AgentClient({ url: event.callbackUrl, token, ca: event.agentVerifyCa, timeoutMs: options.agentTimeoutMs, log: nodeLog });
    try {
      const report = await driveCleaning({
        client, node: agentNode(event.node), ports: agentPorts(event.node), log: nodeLog, signal: stop.signal,
        pollIntervalMs: options.pollIntervalMs,
        onProgress: (progress) => {
          if (progress.type === 'step-start') emitter.emit('step-start', { uuid, step: progress.step, index: progress.index, total: progress.total });
          if (progress.type === 'progress') emitter.emit('progress', { uuid, step: progress.step, progress: progress.progress });
          if (progress.type === 'step-done') emitter.emit('step-done', { uuid, step: progress.step, index: progress.index, total: progress.total, durationMs: progress.durationMs });
        },
      });
      await finish(uuid, { report });
    } catch (error) {
      await finish(uuid, { error: error instanceof Error ? error : new Error(String(error)) });
    } finally {
      client.close();
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
      // Heartbeats are Ironic's clock; here the first one starts cleaning and polling does the rest.
      if (states.get(uuid) !== 'cleaning' || running.has(uuid)) return;
      running.add(uuid);
      return clean(event).finally(() => running.delete(uuid));
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
    waitForCleaning: (uuid: string) => outcomes.get(uuid) ?? Promise.reject(new IngotError('INGOT_NODE_NOT_FOUND', { details: uuid })),
    close: () => new Promise<void>((resolve) => {
      stop.abort(new Error('conductor closing'));
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  });
}
