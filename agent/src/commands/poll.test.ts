import { afterEach, describe, expect, it } from 'vitest';
import { startStandaloneTestAgent, type StandaloneTestAgent } from '../testing-standalone-agent.ts';
import { parseNodeInfo } from './poll.ts';

const started: StandaloneTestAgent[] = [];
afterEach(async () => { for (const agent of started.splice(0)) await agent.stop(); });

describe('poll.set_node_info', () => {
  it('in a standalone agent, is applied as a lookup reply: the node is cached and the config\'s switches honoured', async () => {
    const agent = await startStandaloneTestAgent();
    started.push(agent);
    expect(agent.agent.session.node).toBeUndefined();
    const node = { uuid: '3f1c7a9e-0d2b-4c4f-9a51-6c2f1d0e8b77', properties: { root_device: { name: '/dev/sdb' } } };
    const reply = await agent.command('poll.set_node_info', { node_info: { node, config: { agent_md5_checksum_enable: true, enable_bios_bootloader_install: true, heartbeat_timeout: 300 } } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ command_name: 'set_node_info', command_status: 'SUCCEEDED', command_result: null });
    expect(agent.agent.session.node).toEqual(node);
    expect(agent.agent.session.md5Allowed).toBe(true);
    expect(agent.agent.session.biosBootloaderAllowed).toBe(true);
    expect(agent.logText()).toContain('node information set (standalone)');
  });

  it('refuses a malformed node_info with a 400 naming the field, and changes nothing', async () => {
    const agent = await startStandaloneTestAgent();
    started.push(agent);
    for (const [nodeInfo, field] of [[undefined, '"node_info"'], [[], '"node_info"'], [{ node: { name: 'x' } }, '"node_info.node"'], [{ node: { uuid: 'u' }, config: 'x' }, '"node_info.config"']] as const) {
      const reply = await agent.command('poll.set_node_info', nodeInfo === undefined ? {} : { node_info: nodeInfo });
      expect(reply.status).toBe(400);
      expect(reply.body).toMatchObject({ faultcode: 'Client' });
      expect(reply.body.faultstring).toContain(field);
    }
    expect(agent.agent.session.node).toBeUndefined();
    expect(agent.agent.runner.list()).toEqual([]);
  });

  it('takes a node_info without config', () => {
    expect(parseNodeInfo({ node_info: { node: { uuid: 'u' } } })).toEqual({ node: { uuid: 'u' }, config: {} });
  });
});

describe('poll.get_hardware_info', () => {
  it('still answers the inventory', async () => {
    const agent = await startStandaloneTestAgent();
    started.push(agent);
    const reply = await agent.command('poll.get_hardware_info', {});
    expect(reply.body.command_status).toBe('SUCCEEDED');
    expect(reply.body.command_result.interfaces[0].mac_address).toBe('02:00:00:00:00:01');
  });
});
