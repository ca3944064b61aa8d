import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.ts';
import { createFakeSystem } from '../testing.ts';
import { createRamdiskPower } from './power-control.ts';

const log = createLogger({ level: 'silent' });

describe('createRamdiskPower', () => {
  it('powers off with poweroff -f and touches /proc/sysrq-trigger only when that fails', async () => {
    const system = createFakeSystem({ commands: [{ argv: ['sync'] }, { argv: ['poweroff', '-f'] }] });
    await createRamdiskPower(system, log).powerOff();
    expect(system.calls).toEqual([['sync'], ['poweroff', '-f']]);
    expect(system.files.has('/proc/sysrq-trigger')).toBe(false);
  });

  it('writes the magic SysRq key itself, no shell, when reboot -f fails or is ignored', async () => {
    const failing = createFakeSystem({ commands: [{ argv: ['sync'] }, { argv: ['reboot', '-f'], exitCode: 1, stderr: 'reboot: not permitted' }] });
    await createRamdiskPower(failing, log).reboot();
    expect(failing.files.get('/proc/sysrq-trigger')).toBe('b');
    const ignored = createFakeSystem({ commands: [{ argv: ['sync'] }, { argv: ['poweroff', '-f'], stderr: 'Ignoring request' }] });
    await createRamdiskPower(ignored, log).powerOff();
    expect(ignored.files.get('/proc/sysrq-trigger')).toBe('o');
    expect(ignored.calls.map((argv) => argv[0])).toEqual(['sync', 'poweroff']);
  });
});
