import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createFakeSystem } from '../testing.ts';
import { generateAgentKey } from '../tls/self-signed.ts';
import { chooseTls } from './choose-tls.ts';

const log = pino({ level: 'silent' });

describe('automatic TLS without a state directory', () => {
  it('keeps the generated key and certificate in memory: nothing is written', async () => {
    const system = createFakeSystem();
    const tls = await chooseTls({
      config: { enableAutoTls: true, tlsCertFile: undefined, tlsKeyFile: undefined }, conductorVersion: async () => '1.68', advertiseHost: '127.0.0.1', stateDir: undefined, log, system,
      key: async () => generateAgentKey(),
    });
    expect(tls?.kind).toBe('automatic');
    expect(tls?.key).toMatch(/PRIVATE KEY/);
    expect([...system.files.keys()]).toEqual([]);
  });

  it('writes them into the state directory when there is one (the ramdisk\'s /run/ingot, --state-dir)', async () => {
    const system = createFakeSystem();
    await chooseTls({
      config: { enableAutoTls: true, tlsCertFile: undefined, tlsKeyFile: undefined }, conductorVersion: async () => '1.68', advertiseHost: '127.0.0.1', stateDir: '/run/ingot', log, system,
      key: async () => generateAgentKey(),
    });
    expect([...system.files.keys()].sort()).toEqual(['/run/ingot/agent.crt', '/run/ingot/agent.key']);
  });
});
