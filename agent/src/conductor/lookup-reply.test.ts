import { describe, expect, it } from 'vitest';
import { parseLookupReply } from './lookup-reply.ts';

const where = 'http://conductor:6385/v1/lookup';
const node = { uuid: '1be26c0b-03f2-4d2e-ae87-c02d7f33c123', properties: {}, instance_info: {}, driver_internal_info: {} };

describe('parseLookupReply', () => {
  it('takes Ironic\'s reply as it is, and the legacy top-level heartbeat_timeout', () => {
    const config = { heartbeat_timeout: 300, agent_token: 'x'.repeat(43), agent_md5_checksum_enable: false };
    expect(parseLookupReply({ node, config }, where)).toMatchObject({ reply: { node, config }, heartbeatTimeoutUsable: true });
    expect(parseLookupReply({ node, heartbeat_timeout: 120 }, where).reply.config).toEqual({ heartbeat_timeout: 120 });
    expect(parseLookupReply({ node, config: { heartbeat_timeout: '90' } }, where).reply.config.heartbeat_timeout).toBe(90);
  });

  it('uses Ironic\'s default 300 s for a heartbeat_timeout that would make the agent pulse with every reply or never (fuzz finding: -300 was kept)', () => {
    for (const bad of [-300, 0, 0.001, Number.NaN, 'soon', '', null, [300], { s: 300 }]) {
      const parsed = parseLookupReply({ node, config: { heartbeat_timeout: bad } }, where);
      expect(parsed.reply.config.heartbeat_timeout).toBe(300);
      expect(parsed.heartbeatTimeoutUsable).toBe(false);
    }
  });

  it('refuses a reply without a usable node, naming the URL and the field, and never repeating the body (it holds the token)', () => {
    const token = 'S3cr3tS3cr3tS3cr3tS3cr3tS3cr3t';
    for (const [body, field] of [[token, 'instead of a JSON object'], [[token], 'instead of a JSON object'], [{ node: { uuid: '' }, config: { agent_token: token } }, 'without node.uuid'],
      [{ node: { ...node, instance_info: 'x' }, config: { agent_token: token } }, 'node.instance_info not an object'], [{ node: { ...node, properties: [token] } }, 'node.properties not an object']] as const) {
      expect(() => parseLookupReply(body, where)).toThrow(`${where} answered`);
      expect(() => parseLookupReply(body, where)).toThrow(field);
      try { parseLookupReply(body, where); } catch (error) { expect((error as Error).message).not.toContain(token); }
    }
  });
});
