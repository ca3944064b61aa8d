import { afterEach, describe, expect, it } from 'vitest';
import { createBlockDevices } from '../disks/create-block-devices.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createFakeSystem } from '../testing.ts';
import { startStandaloneTestAgent, type StandaloneTestAgent } from '../testing-standalone-agent.ts';

const started: StandaloneTestAgent[] = [];
afterEach(async () => { for (const agent of started.splice(0)) await agent.stop(); });

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const connectionRefused = (url: string) => fetch(`${url}/v1/status`).then(() => undefined, (error: Error) => (error.cause as { code?: string } | undefined)?.code);

describe('system.lockdown through the agent\'s HTTP API', () => {
  it('inside the ramdisk: answers SUCCEEDED with null, then closes the API and takes every interface but lo down, and stays alive', async () => {
    const system = createFakeSystem({
      files: { '/sys/class/net/lo/address': '00:00:00:00:00:00\n', '/sys/class/net/eth0/address': '52:54:00:00:00:01\n', '/sys/class/net/eth1/address': '52:54:00:00:00:02\n' },
      commands: [{ argv: ['ip', 'link', 'set', 'eth0', 'down'] }, { argv: ['ip', 'link', 'set', 'eth1', 'down'], exitCode: 2, stderr: 'RTNETLINK answers: Operation not permitted' }],
    });
    const guard = createDeviceGuard({ mode: 'ramdisk' });
    const agent = await startStandaloneTestAgent({ deps: { system, devices: createBlockDevices({ system, guard }) } });
    started.push(agent);

    const reply = await agent.command('system.lockdown', {}, { wait: false });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ command_name: 'lockdown', command_status: 'SUCCEEDED', command_result: null, command_error: null });
    await waitFor('the locked-down phase', () => agent.agent.phase === 'locked-down');
    expect(system.calls).toEqual([['ip', 'link', 'set', 'eth0', 'down'], ['ip', 'link', 'set', 'eth1', 'down']]);
    expect(await connectionRefused(agent.url)).toBe('ECONNREFUSED');
    expect(agent.exits).toEqual([]);
    const log = agent.logText();
    expect(log).toContain('could not take a network interface down');
    expect(log).toMatch(/"interfacesDown":\["eth0"\].*locked down \(system.lockdown\)/);
  });

  it('outside the ramdisk: stops the API but runs no ip command at all, and does not exit', async () => {
    // The fake System throws on any command nobody expected, so an `ip` call would fail the lockdown.
    const system = createFakeSystem({ files: { '/sys/class/net/eth0/address': '52:54:00:00:00:01\n' } });
    const guard = createDeviceGuard({ mode: 'sandbox', disks: [] });
    const agent = await startStandaloneTestAgent({ deps: { system, devices: createBlockDevices({ system, guard }) } });
    started.push(agent);
    const reply = await agent.command('system.lockdown', {});
    expect(reply.body.command_status).toBe('SUCCEEDED');
    await waitFor('the locked-down phase', () => agent.agent.phase === 'locked-down');
    expect(agent.logText()).toContain('left up (sandbox');
    expect(system.calls).toEqual([]);
    expect(await connectionRefused(agent.url)).toBe('ECONNREFUSED');
    expect(agent.exits).toEqual([]);
  });
});
