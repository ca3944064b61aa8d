import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { UsageError } from '@ingot/protocol/cli';
import { createDeviceGuard } from './system/device-guard.ts';
import { createRealSystem } from './system/real-system.ts';
import { checkCommandLinePaths, refuseInvalidConfig } from './usage-checks.ts';

const dir = mkdtempSync(join(tmpdir(), 'ingot-usage-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const disk = join(dir, 'disk0.img');
const machine = join(dir, 'machine.json');
writeFileSync(disk, '');
writeFileSync(machine, '{}');
// The real System as main.ts uses it for these checks: stat only, nothing opened.
const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });

async function refusalOf(config: { disk?: string[]; machine?: string; caFile?: string; tlsCertFile?: string; tlsKeyFile?: string }, inRamdisk = false): Promise<string> {
  const error = await checkCommandLinePaths({ config, inRamdisk, system }).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(UsageError);
  const message = (error as UsageError).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('the paths a command line names', () => {
  it('accepts, outside the ramdisk, disk files and block devices, and a machine file', async () => {
    await expect(checkCommandLinePaths({ config: { disk: [disk], machine }, inRamdisk: false, system })).resolves.toBeUndefined();
    const blockDevice = { stat: async () => ({ size: 0, isFile: false, isBlockDevice: true }) };
    await expect(checkCommandLinePaths({ config: { disk: ['/dev/loop7'] }, inRamdisk: false, system: blockDevice })).resolves.toBeUndefined();
  });

  it('refuses sandbox mode without a --disk, saying what to give and how', async () => {
    expect(await refusalOf({})).toMatch(/^sandbox mode .* needs at least one --disk, a disk file or a loop device, e\.g\. truncate -s 1G \/tmp\/disk0\.img, then --disk \/tmp\/disk0\.img$/);
    expect(await refusalOf({ disk: [] })).toMatch(/needs at least one --disk/);
  });

  it('refuses a --disk that does not exist or is neither a file nor a block device, naming it', async () => {
    expect(await refusalOf({ disk: [disk, join(dir, 'missing.img')] })).toBe(`--disk ${join(dir, 'missing.img')}: no such file; create a disk file (truncate -s 1G ${join(dir, 'missing.img')}) or give a loop device`);
    expect(await refusalOf({ disk: [dir] })).toBe(`--disk ${dir}: neither a regular file nor a block device; give a disk file or a loop device`);
    expect(await refusalOf({ disk: ['/dev/null'] })).toMatch(/^--disk \/dev\/null: neither a regular file nor a block device/);
    expect(await refusalOf({ disk: [join(disk, 'below-a-file')] })).toMatch(/: no such file;/);
  });

  it('refuses a missing or odd --machine file in any mode, and needs no --disk inside the ramdisk', async () => {
    expect(await refusalOf({ disk: [disk], machine: join(dir, 'nope.json') })).toBe(`--machine ${join(dir, 'nope.json')}: no such file; see examples/machine.json for the format`);
    expect(await refusalOf({ machine: dir }, true)).toMatch(/^--machine .*: not a regular file/);
    await expect(checkCommandLinePaths({ config: {}, inRamdisk: true, system })).resolves.toBeUndefined();
  });

  it('refuses a missing PEM file (--ca-file, --tls-cert-file, --tls-key-file) naming the flag, before anything starts', async () => {
    expect(await refusalOf({ disk: [disk], caFile: join(dir, 'ca.pem') })).toBe(`--ca-file ${join(dir, 'ca.pem')}: no such file; give the PEM file of the CA that signed the conductor's certificate`);
    expect(await refusalOf({ disk: [disk], tlsCertFile: machine, tlsKeyFile: dir })).toMatch(/^--tls-key-file .*: not a regular file; give the PEM key of --tls-cert-file$/);
  });

  it("turns resolveConfig's refusal into a usage error with its details, and lets any other error through", () => {
    expect(() => refuseInvalidConfig(() => { throw new IngotError('INGOT_CONFIG_INVALID', { details: '--tls-cert-file and --tls-key-file go together' }); }))
      .toThrow(new UsageError('--tls-cert-file and --tls-key-file go together'));
    const other = new Error('disk on fire');
    expect(() => refuseInvalidConfig(() => { throw other; })).toThrow(other);
    expect(refuseInvalidConfig(() => 7)).toBe(7);
  });
});
