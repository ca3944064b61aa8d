/**
 * An in-process agent (sandbox mode, a simulated machine) and a conductor
 * made of conductor-client's public pieces, both on 127.0.0.1: what the
 * integration tests pair over HTTPS.
 */
import express from 'express';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  AGENT_VERSION, collectSystemLogs, createAgent, createBlockDevices, createDeviceGuard, createGenericManager,
  createMachineFileInventory, createRealSystem, createSession, createSimulatedPower, readDownloadSettings, resolveConfig, type Agent, type AgentDeps,
} from '@ingot/agent';
import { createMemoryNodeStore, createNodeRecord, createPairing, createPairingRouter, type HeartbeatEvent } from '@ingot/conductor-client';
import type { SimulatedMachine } from './simulated-machine.ts';

/** Undone in reverse order after each test. */
export type Cleanups = Array<() => Promise<void> | void>;

export interface TestConductorOptions {
  nodeUuid?: string;
  allowedAddresses?: string[];
  tls?: { cert: string; key: string };
  /** More keys for the lookup reply's config (enable_bios_bootloader_install...). */
  extraLookupConfig?: Record<string, unknown>;
}

export async function startTestConductor(machine: Pick<SimulatedMachine, 'mac'>, cleanups: Cleanups, log: Logger, options: TestConductorOptions = {}) {
  const uuid = options.nodeUuid ?? '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01';
  const store = createMemoryNodeStore([createNodeRecord({ uuid, macs: [machine.mac], lookupAllowed: true, allowedAddresses: options.allowedAddresses })]);
  const tokens: string[] = [];
  const heartbeats: HeartbeatEvent[] = [];
  const lookups: number[] = [];
  const pairing = createPairing({
    store, heartbeatTimeout: 10, log, extraLookupConfig: options.extraLookupConfig,
    onTokenIssued: (_uuid, token) => tokens.push(token),
    onHeartbeat: (event) => { heartbeats.push(event); },
    onLookup: () => { lookups.push(Date.now()); },
  });
  const app = express();
  app.use(createPairingRouter(pairing, { log }));
  const server = (options.tls ? https.createServer(options.tls, app) : http.createServer(app)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { nodeUuid: uuid, url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, pairing, store, tokens, heartbeats, lookups };
}

export async function startTestAgent(machine: SimulatedMachine, apiUrl: string, cleanups: Cleanups, log: Logger, options: { agentToken?: string; caFile?: string; kernel?: Record<string, string>; exit?: AgentDeps['exit'] } = {}): Promise<Agent> {
  const config = resolveConfig({ kernel: options.kernel, flags: { apiUrl: [apiUrl], listenHost: '127.0.0.1', listenPort: '0', advertiseHost: '127.0.0.1', lookupTimeout: '60', disk: machine.disks, ...(options.agentToken ? { agentToken: options.agentToken } : {}), ...(options.caFile ? { caFile: options.caFile } : {}) } });
  const guard = createDeviceGuard({ mode: 'sandbox', disks: machine.disks });
  const system = createRealSystem({ guard, log });
  const devices = createBlockDevices({ system, guard });
  // As the agent's main assembles it: one session shared by the agent and the generic manager's deploy step.
  const session = createSession({ presetToken: config.agentToken, log });
  const caPem = options.caFile ? readFileSync(options.caFile, 'utf8') : undefined;
  const download = readDownloadSettings(config, caPem);
  const agent = createAgent({
    config, log, system, devices, session, download, caPem, stateDir: machine.dir, version: AGENT_VERSION,
    inventory: createMachineFileInventory({ path: machine.machineFile, devices, system }),
    power: createSimulatedPower(log), managers: [createGenericManager({ deploy: { session, download } })],
    collectLogs: () => collectSystemLogs({ system, log, sandboxDisks: guard.disks }),
    ...(options.exit ? { exit: options.exit } : {}),
  });
  cleanups.push(() => agent.stop());
  await agent.start();
  return agent;
}

/** Polls `probe` until it gives a value, failing with `what` after the timeout. */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
