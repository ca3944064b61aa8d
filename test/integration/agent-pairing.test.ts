import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AgentClient } from '@ingot/conductor-client';
import { isIngotError } from '@ingot/protocol';
import { createTestCertificate } from '@ingot/conductor-client/testing';
import { createSimulatedMachine, remainingSignatures, type SimulatedMachine } from '../support/simulated-machine.ts';
import { startTestAgent, startTestConductor, until, type Cleanups, type TestConductorOptions } from '../support/paired-agent.ts';
import { createRecordingLog } from '../support/recording-log.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const startConductor = (machine: SimulatedMachine, options?: TestConductorOptions) => startTestConductor(machine, cleanups, log, options);
const startAgent = (machine: SimulatedMachine, apiUrl: string, options?: { agentToken?: string; caFile?: string }) => startTestAgent(machine, apiUrl, cleanups, log, options);

describe('an agent and conductor-client over HTTPS on 127.0.0.1', () => {
  it('pairs with a one-time token and automatic TLS, and runs cleaning that wipes the disks', async () => {
    const machine = createSimulatedMachine();
    cleanups.push(() => machine.remove());
    expect(remainingSignatures(machine.disks[0]!)).toEqual(['gpt@0', 'ext4@1048576']);
    const conductor = await startConductor(machine);
    await startAgent(machine, conductor.url);
    const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
    expect(beat.callbackUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(beat.agentVerifyCa).toContain('BEGIN CERTIFICATE');
    expect(conductor.tokens).toHaveLength(1);

    const client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
    cleanups.push(() => client.close());
    const steps = await client.getCleanSteps({ uuid: beat.node.uuid }, []);
    const metadata = Object.values(steps.steps).flat().find((step) => step.step === 'erase_devices_metadata');
    expect(metadata).toMatchObject({ priority: 99, interface: 'deploy', abortable: true });
    await client.executeCleanStep({ ...metadata!, requires_ramdisk: true }, { uuid: beat.node.uuid }, [], steps.hardwareManagerVersion);
    const done = await client.waitForCommand('execute_clean_step', { intervalMs: 200, timeoutMs: 60_000 });
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result).toMatchObject({ clean_step: { step: 'erase_devices_metadata' }, clean_result: Object.fromEntries(machine.disks.map((d) => [d, null])) });
    for (const disk of machine.disks) expect(remainingSignatures(disk)).toEqual([]);
  });

  it('refuses a client that pins another certificate, and a command with a wrong token changes nothing', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const conductor = await startConductor(machine);
    const agent = await startAgent(machine, conductor.url);
    const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);

    const wrongToken = new AgentClient({ url: beat.callbackUrl, token: 'x'.repeat(43), ca: beat.agentVerifyCa, log, maxAttempts: 1 });
    cleanups.push(() => wrongToken.close());
    const refused = await wrongToken.runCommand('clean.get_clean_steps', { node: { uuid: 'x' }, ports: [] }, { wait: true }).catch((error: unknown) => error);
    expect(isIngotError(refused) && refused.code).toBe('INGOT_TOKEN_INVALID');
    expect(agent.runner.list()).toEqual([]);

    const unpinned = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, log, maxAttempts: 1 });
    cleanups.push(() => unpinned.close());
    const tlsError = await unpinned.getCommandsStatus().catch((error: unknown) => error);
    expect(isIngotError(tlsError) && tlsError.code).toBe('INGOT_AGENT_UNREACHABLE');
    expect(remainingSignatures(machine.disks[0]!)).toEqual(['gpt@0', 'ext4@1048576']);
  });

  it('starts over when the conductor wipes its token: forgets its commands, looks up again, and the old token no longer works', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const conductor = await startConductor(machine);
    const agent = await startAgent(machine, conductor.url);
    const first = await until('the first heartbeat', () => conductor.heartbeats[0]);
    const oldClient = new AgentClient({ url: first.callbackUrl, token: conductor.tokens[0]!, ca: first.agentVerifyCa, log, maxAttempts: 1 });
    cleanups.push(() => oldClient.close());
    await oldClient.getCleanSteps({ uuid: first.node.uuid }, []);
    expect(agent.runner.list()).toHaveLength(1);

    // What Ironic does at power off or at the end of cleaning.
    await conductor.pairing.revokeToken(first.node.uuid);
    await until('a second lookup', () => conductor.lookups.length >= 2 && conductor.tokens.length >= 2, 30_000);
    await until('a heartbeat with the new token', () => conductor.heartbeats.find((event) => event.first && event !== first), 30_000);
    expect(conductor.tokens[1]).not.toBe(conductor.tokens[0]);
    expect(agent.runner.list()).toEqual([]);

    const replayed = await oldClient.runCommand('clean.get_clean_steps', { node: { uuid: 'x' }, ports: [] }, { wait: true }).catch((error: unknown) => error);
    expect(isIngotError(replayed) && replayed.code).toBe('INGOT_TOKEN_INVALID');
    const newClient = new AgentClient({ url: first.callbackUrl, token: conductor.tokens[1]!, ca: first.agentVerifyCa, log });
    cleanups.push(() => newClient.close());
    expect((await newClient.getCleanSteps({ uuid: first.node.uuid }, [])).hardwareManagerVersion).toEqual({ generic_hardware_manager: '1.2' });
  });

  it('behaves as freshly booted after standby.power_off when no power cut follows', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const conductor = await startConductor(machine);
    const agent = await startAgent(machine, conductor.url);
    const first = await until('the first heartbeat', () => conductor.heartbeats[0]);
    const client = new AgentClient({ url: first.callbackUrl, token: conductor.tokens[0]!, ca: first.agentVerifyCa, log });
    cleanups.push(() => client.close());
    expect((await client.powerOff()).command_status).toBe('RUNNING');
    await until('a second lookup after the power-off', () => conductor.lookups.length >= 2, 20_000);
    await until('the command history to be forgotten', () => agent.runner.list().length === 0);
    // The conductor still holds the first token, so the second lookup withholds it and the agent keeps its own.
    expect(conductor.tokens).toHaveLength(1);
    expect(remainingSignatures(machine.disks[0]!)).toEqual(['gpt@0', 'ext4@1048576']);
  });

  it('pairs with a token pre-set for virtual media, and locks itself down when the token is withheld and it holds none', async () => {
    const machine = createSimulatedMachine({ disks: 0 });
    cleanups.push(() => machine.remove());
    const conductor = await startConductor(machine);
    const preset = await conductor.pairing.issueToken('1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01', { pregenerated: true });

    const withoutToken = await startAgent(machine, conductor.url);
    await until('the agent to lock itself down', () => withoutToken.phase === 'locked-down');
    await expect(withoutToken.done).rejects.toThrow(/withheld the token.*holds none/);
    expect(conductor.heartbeats).toEqual([]);

    await startAgent(machine, conductor.url, { agentToken: preset });
    const beat = await until('a heartbeat with the pre-set token', () => conductor.heartbeats[0]);
    const client = new AgentClient({ url: beat.callbackUrl, token: preset, ca: beat.agentVerifyCa, log });
    cleanups.push(() => client.close());
    expect((await client.getCleanSteps({ uuid: beat.node.uuid }, [])).hardwareManagerVersion).toEqual({ generic_hardware_manager: '1.2' });
  });

  it('verifies the conductor\'s certificate against the configured CA and never pairs with one it cannot verify', async () => {
    const machine = createSimulatedMachine({ disks: 0 });
    cleanups.push(() => machine.remove());
    const tls = createTestCertificate({ ip: '127.0.0.1' });
    const conductor = await startConductor(machine, { tls });

    const agentLog = createRecordingLog();
    const untrusting = await startTestAgent(machine, conductor.url, cleanups, agentLog.log);
    // Evidence that it tried and refused: the agent's own account of lookups at
    // this conductor that failed on its certificate. The second one shows it
    // did not find another way in after the first refusal (plain http, or TLS
    // without verification), which would have reached the conductor by then.
    const refused = () => agentLog.records.filter((record) => record.msg.startsWith('lookup failed (attempt ')
      && String((record.lookup as { reason?: unknown } | undefined)?.reason).includes(`cannot reach the conductor at ${conductor.url}`)
      && /certificate/.test(String((record.lookup as { reason?: unknown }).reason)));
    await until('two lookups refused for the conductor\'s certificate (or one that got through)', () => refused().length >= 2 || conductor.lookups.length > 0);
    expect(untrusting.phase).toBe('looking-up');
    expect(conductor.lookups).toEqual([]);
    expect(conductor.tokens).toEqual([]);
    await untrusting.stop();

    const caFile = join(machine.dir, 'conductor-ca.pem');
    writeFileSync(caFile, tls.cert);
    await startAgent(machine, conductor.url, { caFile });
    const beat = await until('a heartbeat over the verified connection', () => conductor.heartbeats[0]);
    expect(beat.callbackUrl).toMatch(/^https:/);
  });

  it('is never found by lookup from an address outside the node\'s allow-list', async () => {
    const machine = createSimulatedMachine({ disks: 0 });
    cleanups.push(() => machine.remove());
    const conductorLog = createRecordingLog();
    const conductor = await startTestConductor(machine, cleanups, conductorLog.log, { allowedAddresses: ['192.0.2.0/24'] });
    const agent = await startAgent(machine, conductor.url);
    // Evidence that it tried and was refused for its address (the answer on
    // the wire is a plain 404, as for an unknown node): the conductor's
    // record of two such refusals, the second after the agent had seen the first.
    const refused = () => conductorLog.matching('lookup refused: source address not allowed for this node', (record) => record.remoteAddress === '127.0.0.1' && record.node === conductor.nodeUuid);
    await until('two lookups refused for the agent\'s source address (or one that got through)', () => refused().length >= 2 || conductor.lookups.length > 0);
    expect(agent.phase).toBe('looking-up');
    expect(conductor.lookups).toEqual([]);
    expect(conductor.tokens).toEqual([]);
    expect(conductor.heartbeats).toEqual([]);
  });
});
