/**
 * create_configuration leaves nothing half-built: the member disks (loop
 * devices here) get their partition tables, then mdadm --create cannot run
 * (this host has no md driver, and outside the ramdisk the guard refuses
 * /dev/md0 anyway), and every disk the step touched is erased again: no
 * table, no signature, so the step can simply be run again. Arrays
 * themselves are built in QEMU (test/e2e/raid.test.ts).
 */
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createArrays, createBlockDevices, createDeviceGuard, createLogger, createRealSystem, parseRaidConfig, planRaid, type System } from '@ingot/agent';
import { attachLoop, detachLoop, loopUnavailableReason, remainingSignatures, sh } from './loop-disks.ts';
import { prerequisite } from '../support/prerequisite.ts';

const MiB = 1024 * 1024;
const log = createLogger({ level: 'silent' });
const loopDevices = prerequisite('the software RAID rollback test', await loopUnavailableReason());

loopDevices.describe('a failed software RAID create on loop devices', () => {
  let work = '';
  const loops: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ingot-raid-rollback-'));
    for (const name of ['a', 'b']) {
      const file = join(work, `${name}.img`);
      await writeFile(file, '');
      await truncate(file, 96 * MiB);
      loops.push(await attachLoop(file, 512));
    }
  });

  afterAll(async () => {
    for (const loop of loops) await detachLoop(loop);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('erases every member disk again and says create can be run again', async () => {
    const guard = createDeviceGuard({ mode: 'sandbox', disks: loops });
    const real = createRealSystem({ guard, log });
    const ran: string[][] = [];
    // The real system, watched: which tools ran, in order.
    const system: System = { ...real, run: (argv, options) => { ran.push([...argv]); return real.run(argv, options); } };
    const devices = createBlockDevices({ system, guard });
    const config = parseRaidConfig({ logical_disks: [{ controller: 'software', size_gb: 'MAX', raid_level: '1', volume_name: 'root', is_root_volume: true }] })!;
    const plan = planRaid({ config, disks: await devices.listDisks(), bootMode: 'bios', label: 'gpt' });
    const progress: string[] = [];
    const failure = await createArrays({ system, devices, log, progress: (p) => progress.push(`${p.stage} ${p.message ?? ''}`), signal: new AbortController().signal }, plan, { bootMode: 'bios', label: 'gpt' }).catch((error: unknown) => error);

    expect(isIngotError(failure, 'INGOT_RAID_FAILED'), String(failure)).toBe(true);
    expect((failure as Error).message).toMatch(/creating the software RAID configuration failed: .*\/dev\/md0.*; the arrays made so far were stopped and the disks erased again, so create_configuration can be run again/);
    // Both tables were written (BIOS boot partition 1, the member partition 2), then the create failed.
    expect(ran.filter((argv) => argv[0] === 'sgdisk' && argv[1] === '--clear').map((argv) => argv.at(-1))).toEqual(loops);
    expect(ran.find((argv) => argv[0] === 'sgdisk' && argv[1] === '--clear')).toEqual(expect.arrayContaining(['--new=1:2048:6143', '--new=2:16384:194559']));
    expect(progress).toEqual([`partitioning RAID members ${loops[0]}`, `partitioning RAID members ${loops[1]}`, 'creating arrays /dev/md0 "root" RAID 1']);
    for (const loop of loops) {
      expect(await remainingSignatures(loop), loop).toBe('');
      const table = await sh('sgdisk', ['--print', loop], { allowFailure: true });
      expect(table.stdout + table.stderr).toMatch(/Creating new GPT entries/);
      expect((await devices.listPartitions((await devices.listDisks()).find((d) => d.name === loop)!)).length).toBe(0);
    }
  });
});
