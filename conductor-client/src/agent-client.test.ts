import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isIngotError, type ErrorCode } from '@ingot/protocol';
import { describeFailure } from '@ingot/protocol/cli';
import { AgentClient, type AgentClientOptions } from './agent-client.ts';
import { AgentBusyError, commandError } from './agent-results.ts';
import { createFakeAgentServer, type FakeAgentOptions } from './testing/fake-agent-server.ts';
import { createTestCertificate, type TestCertificate } from './testing/test-certificate.ts';

const TOKEN = 'T'.repeat(43);
const NODE = { uuid: 'b7a4c1e2-0d1f-4f55-9a33-1e2f3a4b5c6d' };
let cert: TestCertificate;
let otherCert: TestCertificate;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  cert = createTestCertificate();
  otherCert = createTestCertificate();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function agentAndClient(agentOptions: FakeAgentOptions = {}, clientOptions: Partial<AgentClientOptions> = {}) {
  const agent = await createFakeAgentServer({ token: TOKEN, tls: cert, ...agentOptions });
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }));
  const client = new AgentClient({ url: agent.url, token: TOKEN, ca: cert.cert, log, ...clientOptions });
  cleanups.push(() => agent.close(), () => client.close());
  return { agent, client, lines };
}

async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(isIngotError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return error as Error;
}

describe('AgentClient over pinned HTTPS', () => {
  it('posts commands with wait and agent_token in the query and sends the token on GET too', async () => {
    const { agent, client } = await agentAndClient();
    const reply = await client.getCleanSteps(NODE, []);
    expect(reply.steps.FakeHardwareManager?.map((s) => s.step)).toEqual(['erase_devices_metadata', 'erase_devices']);
    await client.getCommandsStatus();
    const [post, get] = agent.requests;
    expect(post).toMatchObject({ method: 'POST', path: '/v1/commands/', query: { wait: 'true' }, token: TOKEN, body: { name: 'clean.get_clean_steps', params: { node: NODE, ports: [] } } });
    expect(get).toMatchObject({ method: 'GET', path: '/v1/commands/', token: TOKEN });
  });

  it('refuses an agent whose certificate is not the pinned one', async () => {
    const { agent } = await agentAndClient();
    const client = new AgentClient({ url: agent.url, token: TOKEN, ca: otherCert.cert, maxAttempts: 1 });
    cleanups.push(() => client.close());
    const error = await rejection(client.getCommandsStatus(), 'INGOT_AGENT_UNREACHABLE');
    expect(error.message).not.toContain(TOKEN);
    expect(agent.requests).toHaveLength(0);
  });

  it('refuses an https agent when nothing is pinned and the system store does not know it', async () => {
    const { agent } = await agentAndClient();
    const client = new AgentClient({ url: agent.url, token: TOKEN, maxAttempts: 1 });
    cleanups.push(() => client.close());
    await rejection(client.getCommandsStatus(), 'INGOT_AGENT_UNREACHABLE');
  });

  it('maps 409 "Agent is busy" to a typed AgentBusyError', async () => {
    const { client } = await agentAndClient({ stepDurationMs: 500 });
    const step = { step: 'erase_devices_metadata', interface: 'deploy', priority: 99 };
    expect((await client.executeCleanStep(step, NODE, [], null)).command_status).toBe('RUNNING');
    const error = await rejection(client.executeCleanStep(step, NODE, [], null), 'INGOT_AGENT_BUSY');
    expect(error).toBeInstanceOf(AgentBusyError);
    expect(error.message).toContain('Agent is busy');
  });

  it('maps other HTTP errors through the agent fault, and a wrong token to INGOT_TOKEN_INVALID', async () => {
    const { agent, client } = await agentAndClient();
    await rejection(client.runCommand('clean.nope', {}), 'INGOT_INVALID_COMMAND');
    const stranger = new AgentClient({ url: agent.url, token: 'W'.repeat(43), ca: cert.cert });
    cleanups.push(() => stranger.close());
    await rejection(stranger.sync(), 'INGOT_TOKEN_INVALID');
  });

  it('adopts the running command when the reply to a POST is lost, without posting again', async () => {
    const { agent, client, lines } = await agentAndClient({ stepDurationMs: 300 });
    agent.dropResponses(1);
    const result = await client.executeCleanStep({ step: 'erase_devices_metadata', interface: 'deploy' }, NODE, [], null);
    expect(result).toMatchObject({ command_name: 'execute_clean_step', command_status: 'RUNNING' });
    expect(agent.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(lines.join('\n')).toContain('adopting');
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('posts again when the reply is lost and the last command is not a running one of that name', async () => {
    const { agent, client } = await agentAndClient();
    agent.dropResponses(1);
    expect((await client.sync()).command_status).toBe('SUCCEEDED');
    expect(agent.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  });

  it('gives up with INGOT_AGENT_UNREACHABLE after maxAttempts, checking for a running command after each', async () => {
    let connections = 0;
    const black = net.createServer((socket) => { connections += 1; socket.destroy(); });
    await new Promise<void>((resolve) => black.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => black.close(() => resolve())));
    const client = new AgentClient({ url: `http://127.0.0.1:${(black.address() as net.AddressInfo).port}`, token: TOKEN });
    cleanups.push(() => client.close());
    const error = await rejection(client.powerOff(), 'INGOT_AGENT_UNREACHABLE');
    expect(connections).toBe(6);
    expect(error.message).not.toContain(TOKEN);
  });

  it('times out a call that gets no answer', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => { sockets.push(socket); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); silent.close(() => resolve()); }));
    const client = new AgentClient({ url: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, token: TOKEN, timeoutMs: 100, maxAttempts: 1 });
    cleanups.push(() => client.close());
    const error = await rejection(client.sync(), 'INGOT_AGENT_UNREACHABLE');
    expect(describeFailure(error)).toContain('timed out after 100 ms');
    expect(error.message).not.toContain(TOKEN);
  });

  it('polls until a command ends and maps its command_error back to the stable code', async () => {
    const { client } = await agentAndClient();
    const started = await client.executeCleanStep({ step: 'no_such_step', interface: 'deploy' }, NODE, [], null);
    const progress: unknown[] = [];
    const done = await client.waitForCommand('clean.execute_clean_step', { id: started.id, intervalMs: 10, onProgress: (r) => progress.push(r) });
    expect(done.command_status).toBe('FAILED');
    expect(commandError(done)?.code).toBe('INGOT_STEP_NOT_FOUND');
  });

  it('reports a version mismatch as its own status', async () => {
    const { client } = await agentAndClient();
    const started = await client.executeCleanStep({ step: 'erase_devices_metadata', interface: 'deploy' }, NODE, [], { Other: '9' });
    const done = await client.waitForCommand('execute_clean_step', { id: started.id, intervalMs: 10 });
    expect(done.command_status).toBe('CLEAN_VERSION_MISMATCH');
  });

  it('stops polling with INGOT_AGENT_COMMAND_TIMEOUT, reporting progress meanwhile', async () => {
    const { client } = await agentAndClient({ stepDurationMs: 1000 });
    await client.executeCleanStep({ step: 'erase_devices_metadata', interface: 'deploy' }, NODE, [], null);
    const progress: unknown[] = [];
    await rejection(client.waitForCommand('execute_clean_step', { intervalMs: 20, timeoutMs: 100, onProgress: (r) => progress.push(r?.command_progress) }), 'INGOT_AGENT_COMMAND_TIMEOUT');
    expect(progress[0]).toMatchObject({ stage: 'erase_devices_metadata' });
  });

  it('throws the agent error of a failed synchronous command', async () => {
    const { client } = await agentAndClient({ handlers: { 'clean.get_clean_steps': () => { throw new Error('disk on fire'); } } });
    const error = await rejection(client.getCleanSteps(NODE, []), 'INGOT_COMMAND_FAILED');
    expect(error.message).toContain('disk on fire');
  });

  it.each([
    ['a FAILED result of type TypeError, as a client bug', 200, { id: '1', command_name: 'sync', command_status: 'FAILED', command_error: { type: 'TypeError', code: 500, message: 'm', details: 'unexpected keyword' }, command_result: null }, 'INGOT_AGENT_API_ERROR', 'unexpected keyword'],
    ['a result without command_error', 200, { id: '1', command_name: 'sync', command_status: 'SUCCEEDED', command_result: null }, 'INGOT_AGENT_API_ERROR', 'Invalid agent response'],
    ['an unknown command_status', 200, { id: '1', command_name: 'sync', command_status: 'DONE', command_error: null }, 'INGOT_AGENT_API_ERROR', 'unknown command_status'],
    ['an IPA fault without an Ingot code', 400, { faultcode: 'Client', faultstring: 'Invalid command: whatever' }, 'INGOT_AGENT_API_ERROR', 'whatever'],
    ['an IPA busy fault with another status', 500, { faultcode: 'Server', faultstring: 'agent is busy: executing command x' }, 'INGOT_AGENT_BUSY', 'busy'],
    ['a body that is not JSON', 200, 'not json', 'INGOT_AGENT_API_ERROR', 'Unable to decode'],
  ] as const)('refuses %s', async (_label, status, body, code, text) => {
    const server = http.createServer((_req, res) => res.writeHead(status).end(typeof body === 'string' ? body : JSON.stringify(body)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
    const client = new AgentClient({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, token: TOKEN });
    cleanups.push(() => client.close());
    const error = await rejection(client.runCommand('standby.sync', {}, { wait: true }), code);
    expect(error.message).toContain(text);
  });

  it('sends each typed command with the name, wait flag and params Ironic uses', async () => {
    const { agent, client } = await agentAndClient();
    expect(await client.getPartitionUuids()).toHaveProperty('root uuid');
    await client.installBootloader({ rootUuid: 'r', targetBootMode: 'uefi' }, { intervalMs: 10 });
    await client.sync();
    expect(Buffer.from(await client.collectSystemLogs(), 'base64').toString()).toBe('fake logs');
    await client.getDeploySteps(NODE, []);
    await client.reboot();
    await client.getServiceSteps(NODE, []);
    await client.setNodeInfo({ node: NODE, config: {} });
    await client.cacheImage({ id: 'i', urls: ['http://x/i'], os_hash_algo: 'sha256', os_hash_value: 'ab' });
    await client.waitForCommand('cache_image', { intervalMs: 10 });
    await client.executeServiceStep({ interface: 'deploy', step: 'write_image', args: {} }, NODE, [], null);
    await client.waitForCommand('execute_service_step', { intervalMs: 10 });
    await client.finalizeRescue('$6$salt$hash');
    const posts = agent.requests.filter((r) => r.method === 'POST').map((r) => [(r.body as { name: string }).name, r.query.wait]);
    expect(posts).toEqual([
      ['standby.get_partition_uuids', 'true'], ['image.install_bootloader', 'false'], ['standby.sync', 'true'],
      ['log.collect_system_logs', 'true'], ['deploy.get_deploy_steps', 'true'], ['standby.run_image', 'false'],
      ['service.get_service_steps', 'true'], ['poll.set_node_info', 'true'], ['standby.cache_image', 'false'],
      ['service.execute_service_step', 'false'], ['rescue.finalize_rescue', 'false'],
    ]);
    const params = (name: string) => (agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === name)?.body as { params: unknown }).params;
    expect(params('rescue.finalize_rescue')).toEqual({ rescue_password: '$6$salt$hash', hashed: true });
    expect(params('standby.cache_image')).toMatchObject({ force: false, image_info: { id: 'i' } });
    expect(params('service.execute_service_step')).toEqual({ step: { interface: 'deploy', step: 'write_image', args: {} }, node: NODE, ports: [], service_version: null });
    expect(params('poll.set_node_info')).toEqual({ node_info: { node: NODE, config: {} } });
    const bootloader = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'image.install_bootloader');
    expect((bootloader?.body as { params: unknown }).params).toEqual({ root_uuid: 'r', efi_system_part_uuid: null, prep_boot_part_uuid: null, target_boot_mode: 'uefi' });
    expect(agent.requests.every((r) => r.token === TOKEN)).toBe(true);
  });

  it('sends the plain rescue password without a hashed parameter, as Ironic\'s fallback for older agents', async () => {
    const { agent, client } = await agentAndClient({ legacyRescue: true });
    await rejection(client.finalizeRescue('$6$salt$hash'), 'INGOT_INVALID_PARAMS');
    expect(agent.stopped).toBe(false);
    await client.finalizeRescue('plain', { hashed: false });
    expect((agent.requests.at(-1)?.body as { params: unknown }).params).toEqual({ rescue_password: 'plain' });
  });

  it('waits until the agent stops answering after lockdown, and times out on an agent that keeps answering', async () => {
    const { agent, client } = await agentAndClient();
    await client.lockdown();
    await client.waitUntilUnreachable({ intervalMs: 10, timeoutMs: 5_000 });
    expect(agent.stopped).toBe(true);

    const { client: still } = await agentAndClient({ stopsAfter: [] });
    await still.lockdown();
    const error = await rejection(still.waitUntilUnreachable({ intervalMs: 10, timeoutMs: 50 }), 'INGOT_AGENT_COMMAND_TIMEOUT');
    expect(error.message).toContain('did not stop its API');
  });

  it('reads service steps and refuses a reply without them', async () => {
    const { client } = await agentAndClient({ handlers: { 'service.get_service_steps': () => ({ hardware_manager_version: {} }) } });
    await rejection(client.getServiceSteps(NODE, []), 'INGOT_AGENT_API_ERROR');
  });
});
