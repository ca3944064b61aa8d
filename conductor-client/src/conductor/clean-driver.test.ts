import { pino } from 'pino';
import { describeFailure } from '@ingot/protocol/cli';
import { afterEach, describe, expect, it } from 'vitest';
import { isIngotError, type StepDescription } from '@ingot/protocol';
import { AgentClient } from '../index.ts';
import { createFakeAgentServer, type FakeAgentOptions } from '../testing/fake-agent-server.ts';
import { driveCleaning, orderCleanSteps, type CleaningProgress } from './clean-driver.ts';

const TOKEN = 'k'.repeat(43);
const NODE = { uuid: '0f8e3c6a-1111-4222-8333-944455556666' };
const log = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

const step = (name: string, priority: number, iface = 'deploy'): StepDescription => ({ step: name, priority, interface: iface, reboot_requested: false });

async function drive(agentOptions: FakeAgentOptions) {
  const agent = await createFakeAgentServer({ token: TOKEN, stepDurationMs: 30, ...agentOptions });
  const client = new AgentClient({ url: agent.url, token: TOKEN });
  cleanups.push(() => agent.close(), () => client.close());
  const events: CleaningProgress[] = [];
  const outcome = await driveCleaning({ client, node: NODE, ports: [], log, pollIntervalMs: 10, onProgress: (e) => events.push(e) })
    .then((report) => ({ report, error: undefined as unknown }), (error: unknown) => ({ report: undefined, error }));
  return { agent, events, ...outcome };
}

describe('orderCleanSteps', () => {
  it('flattens managers, drops priority 0 and sorts by priority, highest first', () => {
    const ordered = orderCleanSteps({ A: [step('low', 10), step('off', 0)], B: [step('high', 99), step('mid', 50, 'raid')] });
    expect(ordered.map((s) => s.step)).toEqual(['high', 'mid', 'low']);
    expect(ordered.every((s) => s.requires_ramdisk === true)).toBe(true);
  });
});

describe('driveCleaning', () => {
  it('runs each enabled step with wait=false and polls it to completion, in priority order', async () => {
    const { agent, events, report } = await drive({ steps: [step('erase_devices', 10), step('erase_devices_metadata', 99), step('burnin_cpu', 0)] });
    expect(report?.steps.map((s) => s.step)).toEqual(['erase_devices_metadata', 'erase_devices']);
    const posts = agent.requests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => [(r.body as { name: string }).name, r.query.wait])).toEqual([
      ['clean.get_clean_steps', 'true'], ['clean.execute_clean_step', 'false'], ['clean.execute_clean_step', 'false'],
    ]);
    expect((posts[1]?.body as { params: Record<string, unknown> }).params).toMatchObject({
      step: { step: 'erase_devices_metadata', priority: 99, requires_ramdisk: true }, node: NODE, ports: [], clean_version: { FakeHardwareManager: '1.0' },
    });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['steps', 'step-start', 'progress', 'step-done']));
  });

  it('re-fetches the steps once after a version mismatch and then succeeds', async () => {
    let calls = 0;
    const steps = [step('erase_devices_metadata', 99)];
    const { agent, report } = await drive({
      steps,
      handlers: { 'clean.get_clean_steps': () => ({ clean_steps: { FakeHardwareManager: steps }, hardware_manager_version: { FakeHardwareManager: (calls++ === 0) ? '0.9' : '1.0' } }) },
    });
    expect(report?.steps).toHaveLength(1);
    expect(agent.requests.filter((r) => (r.body as { name?: string } | undefined)?.name === 'clean.get_clean_steps')).toHaveLength(2);
  });

  it('fails clearly when the versions keep changing', async () => {
    const { error } = await drive({ hardwareManagerVersion: { FakeHardwareManager: '2.0' }, handlers: { 'clean.get_clean_steps': () => ({ clean_steps: { M: [step('erase_devices_metadata', 99)] }, hardware_manager_version: { M: '1' } }) } });
    expect(isIngotError(error, 'INGOT_CLEANING_FAILED')).toBe(true);
    expect(describeFailure(error)).toContain('versions changed again');
  });

  it('fails with the agent error when a step fails, and runs no later step', async () => {
    const { agent, error } = await drive({
      steps: [step('erase_devices_metadata', 99), step('erase_devices', 10)],
      handlers: { 'clean.execute_clean_step': () => { throw new Error('wipefs: device busy'); } },
    });
    expect(isIngotError(error, 'INGOT_CLEANING_FAILED')).toBe(true);
    expect(describeFailure(error)).toContain('deploy.erase_devices_metadata failed on the agent');
    expect(describeFailure(error)).toContain('wipefs: device busy');
    expect(isIngotError((error as Error).cause, 'INGOT_COMMAND_FAILED')).toBe(true);
    expect(agent.requests.filter((r) => (r.body as { name?: string } | undefined)?.name === 'clean.execute_clean_step')).toHaveLength(1);
  });

  it('fails when the agent does not echo the step it ran', async () => {
    const { error } = await drive({ steps: [step('erase_devices_metadata', 99)], handlers: { 'clean.execute_clean_step': () => ({ clean_result: null }) } });
    expect(describeFailure(error)).toContain('does not echo the step');
  });

  it('finishes at once when no step is enabled', async () => {
    const { report, agent } = await drive({ steps: [step('erase_devices', 0)] });
    expect(report?.steps).toEqual([]);
    expect(agent.requests).toHaveLength(1);
  });
});
