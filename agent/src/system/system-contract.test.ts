import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { createFakeSystem } from '../testing.ts';
import { createDeviceGuard } from './device-guard.ts';
import { createRealSystem } from './real-system.ts';
import { ToolError, type System } from './system.ts';

/**
 * What every System does alike, so that a unit test on the fake means what
 * it would mean on the host. The fake is told the tools' answers (it answers
 * by argv); the real one runs them.
 */
const tools = [
  { argv: ['printf', '%s', 'hello'], stdout: 'hello' },
  { argv: ['sh', '-c', 'echo broken >&2; exit 3'], stderr: 'broken\n', exitCode: 3 },
];

function describeSystemContract(name: string, make: () => { system: System; root: string; cleanup(): void }) {
  describe(`the System contract: ${name}`, () => {
    const { system, root, cleanup } = make();
    afterAll(cleanup);

    it('returns what a tool printed', async () => {
      const result = await system.run(['printf', '%s', 'hello']);
      expect([result.stdout, result.exitCode]).toEqual(['hello', 0]);
    });

    it('throws a ToolError holding the exit code and stderr when a tool fails, and returns it when failure is allowed', async () => {
      const argv = ['sh', '-c', 'echo broken >&2; exit 3'];
      const error = await system.run(argv).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(ToolError);
      expect([(error as ToolError).exitCode, (error as ToolError).stderr.trim()]).toEqual([3, 'broken']);
      const allowed = await system.run(argv, { allowFailure: true });
      expect([allowed.exitCode, allowed.stderr.trim()]).toEqual([3, 'broken']);
    });

    it('rejects reading a file that does not exist with ENOENT, and says it does not exist', async () => {
      const path = `${root}/missing.txt`;
      await expect(system.readText(path)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await system.exists(path)).toBe(false);
    });

    it('reads back what it wrote, and lists it in its directory', async () => {
      await system.makeDir(`${root}/state`, { mode: 0o700 });
      await system.writeText(`${root}/state/agent.crt`, 'PEM', { mode: 0o644 });
      expect(await system.readText(`${root}/state/agent.crt`)).toBe('PEM');
      expect(await system.exists(`${root}/state/agent.crt`)).toBe(true);
      expect(await system.listDir(`${root}/state`)).toEqual(['agent.crt']);
    });

    it('removes a temporary directory it made, with its files, and refuses to remove any other', async () => {
      const dir = await system.createTempDir(root, 'staging-');
      await system.writeText(`${dir}/image.qcow2`, 'data');
      await system.removeTempDir(dir);
      expect(await system.exists(dir)).toBe(false);
      await expect(system.removeTempDir(`${root}/state`)).rejects.toThrow(/removeTempDir/);
    });
  });
}

describeSystemContract('the real host (sandbox mode, a temporary directory)', () => {
  const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });
  const root = `${tmpdir()}/ingot-system-contract-${process.pid}`;
  return { system, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
});

describeSystemContract('the fake (agent/testing)', () => ({
  system: createFakeSystem({ commands: tools }),
  root: '/work/contract',
  cleanup: () => {},
}));
