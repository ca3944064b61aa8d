/**
 * A whole agent for tests of its commands through the real HTTP API: no
 * conductor (standalone), a real System in sandbox mode whose only disks are
 * the given files, its state directory a fresh temporary one, and a logger
 * that keeps every line so a test can prove that a secret never reached it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createAgent, AGENT_VERSION, type Agent, type AgentDeps } from './agent.ts';
import { resolveConfig } from './config.ts';
import { readDownloadSettings } from './deploy/download-settings.ts';
import { createBlockDevices } from './disks/create-block-devices.ts';
import { createGenericManager } from './generic-manager.ts';
import type { Inventory } from './inventory/inventory.ts';
import { redactedPaths } from './log.ts';
import { createSimulatedPower } from './power/power-control.ts';
import { createSession } from './session/session.ts';
import type { SnapshotDeps } from './snapshot/snapshot-deps.ts';
import { createDeviceGuard } from './system/device-guard.ts';
import { createRealSystem } from './system/real-system.ts';

export const TEST_TOKEN = 't'.repeat(43);

export interface StandaloneTestAgent {
  agent: Agent;
  stateDir: string;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Every log line written so far, as text. */
  logText(): string;
  /** The exit codes the agent asked for, in order. */
  exits: number[];
  /** Resolves with the first exit code asked for. */
  exited: Promise<number>;
  /** POSTs a command with the token; returns the HTTP status and the parsed body. */
  command(name: string, params: Record<string, unknown>, options?: { wait?: boolean }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startStandaloneTestAgent(options: {
  disks?: string[];
  stateDir?: string;
  flags?: Record<string, string | string[]>;
  deps?: Partial<AgentDeps>;
  /** The snapshot extension's and step's uploader (tests pass an in-memory one). */
  snapshot?: Omit<SnapshotDeps, 'agentVersion'>;
} = {}): Promise<StandaloneTestAgent> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'ingot-agent-test-'));
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, callback) { lines.push(String(chunk)); callback(); } });
  const log = pino({ level: 'debug', redact: { paths: redactedPaths, censor: '***' } }, sink);
  const config = resolveConfig({ flags: { listenHost: '127.0.0.1', listenPort: '0', agentToken: TEST_TOKEN, disk: options.disks ?? [], ...options.flags } });
  const guard = createDeviceGuard({ mode: 'sandbox', disks: options.disks ?? [] });
  const system = createRealSystem({ guard, log });
  const devices = createBlockDevices({ system, guard });
  const session = createSession({ presetToken: config.agentToken, log });
  const download = readDownloadSettings(config, undefined);
  const exits: number[] = [];
  let exitedWith!: (code: number) => void;
  const exited = new Promise<number>((resolve) => { exitedWith = resolve; });
  const inventory: Inventory = {
    interfaces: [{ name: 'eth0', mac_address: '02:00:00:00:00:01' }], cpu: { model_name: 'test', count: 1, architecture: 'x86_64' },
    memory: { total: 2 ** 30, physical_mb: 1024 }, disks: [], bmc_address: null, system_vendor: { manufacturer: 'Ingot', product_name: 'test', serial_number: '1' }, boot: { current_boot_mode: 'bios' },
  } as unknown as Inventory;
  const agent = createAgent({
    config, log, system, devices, session, download, stateDir, version: AGENT_VERSION,
    inventory: { collect: async () => inventory },
    power: createSimulatedPower(log),
    managers: [createGenericManager({ deploy: { session, download }, snapshot: { agentVersion: AGENT_VERSION, ...options.snapshot } })],
    snapshot: { agentVersion: AGENT_VERSION, ...options.snapshot },
    collectLogs: async () => ({ system_logs: '' }),
    exit: (code) => { exits.push(code); exitedWith(code); },
    ...options.deps,
  });
  await agent.start();
  const url = `http://127.0.0.1:${agent.port ?? 0}`;
  return {
    agent, stateDir, url, exits, exited,
    logText: () => lines.join(''),
    async command(name, params, commandOptions = {}) {
      const response = await fetch(`${url}/v1/commands/?wait=${commandOptions.wait ?? true}&agent_token=${TEST_TOKEN}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, params }),
      });
      return { status: response.status, body: await response.json() };
    },
    async stop() {
      await agent.stop();
      if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
