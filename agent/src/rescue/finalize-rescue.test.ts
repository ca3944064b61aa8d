import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verify } from 'unixcrypt';
import { startStandaloneTestAgent, type StandaloneTestAgent } from '../testing-standalone-agent.ts';
import { cryptSha512 } from '@ingot/protocol';
import { parseFinalizeRescueParams } from './rescue-password.ts';
import { rescuePaths } from './rescue-files.ts';

const started: StandaloneTestAgent[] = [];
afterEach(async () => { for (const agent of started.splice(0)) await agent.stop(); });
const start = async (options?: Parameters<typeof startStandaloneTestAgent>[0]) => {
  const agent = await startStandaloneTestAgent(options);
  started.push(agent);
  return agent;
};

const PASSWORD = 'correct horse battery staple ü';

async function refused(url: string): Promise<string | undefined> {
  return fetch(`${url}/v1/status`).then(() => undefined, (error: Error) => String((error.cause as { code?: string } | undefined)?.code ?? error.message));
}

describe('the rescue password', () => {
  it('refuses bad parameters naming the field, never their value', () => {
    const fail = (params: Record<string, unknown>) => { try { parseFinalizeRescueParams(params); return undefined; } catch (error) { return (error as Error).message; } };
    expect(fail({ rescue_password: 'secret-value', hashed: 'yes' })).toMatch(/"hashed" must be true or false/);
    expect(fail({ rescue_password: '' })).toMatch(/"rescue_password" must be a non-empty string/);
    const notAHash = fail({ rescue_password: 'secret-value', hashed: true });
    expect(notAHash).toMatch(/"rescue_password" with "hashed": true must be a crypt\(3\) hash/);
    expect(notAHash).not.toContain('secret-value');
    expect(parseFinalizeRescueParams({ rescue_password: 'x' })).toEqual({ rescuePassword: 'x', hashed: false });
  });

  it('lives under /etc inside the ramdisk and under the state directory elsewhere', () => {
    expect(rescuePaths({ ramdisk: true, stateDir: '/run/ingot' })).toEqual({ dir: '/etc/ipa-rescue-config', passwordFile: '/etc/ipa-rescue-config/ipa-rescue-password', marker: '/etc/.rescued' });
    expect(rescuePaths({ ramdisk: false, stateDir: '/tmp/s/' })).toEqual({ dir: '/tmp/s/ipa-rescue-config', passwordFile: '/tmp/s/ipa-rescue-config/ipa-rescue-password', marker: '/tmp/s/.rescued' });
  });
});

describe('rescue.finalize_rescue through the agent\'s HTTP API', () => {
  it('writes the crypted password 0600 and the marker, answers SUCCEEDED with null, then closes the API and exits 0, never logging the password', async () => {
    const agent = await start();
    const reply = await agent.command('rescue.finalize_rescue', { rescue_password: PASSWORD, hashed: false }, { wait: false });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ command_name: 'finalize_rescue', command_status: 'SUCCEEDED', command_error: null, command_result: null });
    expect(await agent.exited).toBe(0);
    expect(agent.exits).toEqual([0]);

    const paths = rescuePaths({ ramdisk: false, stateDir: agent.stateDir });
    const content = readFileSync(paths.passwordFile, 'utf8');
    expect(content).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}\n$/);
    expect(verify(PASSWORD, content.trim())).toBe(true);
    const salt = content.split('$')[2]!;
    expect(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: PASSWORD, encoding: 'utf8' })).toBe(content);
    expect(statSync(paths.passwordFile).mode & 0o777).toBe(0o600);
    expect(existsSync(paths.marker)).toBe(true);

    expect(await refused(agent.url)).toBe('ECONNREFUSED');
    expect(agent.agent.phase).toBe('stopped');
    const log = agent.logText();
    expect(log).toContain('rescue finalized: the API is stopped; log in as rescue');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(content.trim());
  });

  it('writes a hash sent with hashed=true as it is', async () => {
    const agent = await start();
    const hash = cryptSha512(PASSWORD, 'saltsaltsaltsalt');
    const reply = await agent.command('rescue.finalize_rescue', { rescue_password: hash, hashed: true });
    expect(reply.body.command_status).toBe('SUCCEEDED');
    await agent.exited;
    expect(readFileSync(rescuePaths({ ramdisk: false, stateDir: agent.stateDir }).passwordFile, 'utf8')).toBe(`${hash}\n`);
    expect(agent.logText()).not.toContain(hash);
  });

  it('refuses a plain password sent as hashed with a 400 naming the field, writes nothing and keeps serving', async () => {
    const agent = await start();
    const reply = await agent.command('rescue.finalize_rescue', { rescue_password: PASSWORD, hashed: true });
    expect(reply.status).toBe(400);
    expect(reply.body.faultcode).toBe('Client');
    expect(reply.body.faultstring).toMatch(/rescue_password/);
    expect(reply.body.faultstring).not.toContain(PASSWORD);
    expect(existsSync(rescuePaths({ ramdisk: false, stateDir: agent.stateDir }).marker)).toBe(false);
    expect(agent.exits).toEqual([]);
    expect((await fetch(`${agent.url}/v1/status`)).status).toBe(200);
    expect(agent.logText()).not.toContain(PASSWORD);
  });

  it('does not serve the API when started on a rescued node, and asks to exit 0', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ingot-rescued-'));
    try {
      writeFileSync(rescuePaths({ ramdisk: false, stateDir }).marker, '');
      const agent = await start({ stateDir });
      expect(await agent.exited).toBe(0);
      expect(agent.agent.port).toBeUndefined();
      expect(agent.agent.phase).toBe('stopped');
      expect(agent.logText()).toContain('this node is rescued: not serving the API; log in as rescue');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
