import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createFakeSystem } from '../testing.ts';
import { lsblkArgv, parseLsblk } from '../tools/lsblk.ts';
import { partxArgv } from '../tools/partx.ts';
import { createBlockDevices, mergePartitions, selectRamdiskDisks } from './create-block-devices.ts';

const fixture = (name: string) => readFileSync(new URL(`../tools/fixtures/${name}`, import.meta.url), 'utf8');

describe('createBlockDevices', () => {
  it('keeps real disks in the ramdisk and drops loop devices and a zero-size zram device', () => {
    expect(selectRamdiskDisks(parseLsblk(fixture('lsblk-host.json'))).map((d) => d.kname)).toEqual(['/dev/vda']);
  });

  it('lists a RAID array once although lsblk shows it under each member, and hides multipath paths behind their map', () => {
    const tree = parseLsblk(JSON.stringify({ blockdevices: [
      { name: '/dev/sda', kname: '/dev/sda', type: 'disk', size: 10, children: [{ name: '/dev/md0', kname: '/dev/md0', type: 'raid1', size: 9 }] },
      { name: '/dev/sdb', kname: '/dev/sdb', type: 'disk', size: 10, children: [{ name: '/dev/md0', kname: '/dev/md0', type: 'raid1', size: 9 }] },
      { name: '/dev/sdc', kname: '/dev/sdc', type: 'disk', size: 10, children: [{ name: '/dev/mapper/mpatha', kname: '/dev/dm-0', type: 'mpath', size: 10 }] },
      { name: '/dev/sr0', kname: '/dev/sr0', type: 'rom', size: 10 },
    ] }));
    expect(selectRamdiskDisks(tree).map((d) => d.kname)).toEqual(['/dev/sda', '/dev/md0', '/dev/sdb', '/dev/dm-0']);
  });

  it('describes a given disk file with 512-byte sectors and reads its partitions from the table, without nodes', async () => {
    const system = createFakeSystem({
      files: { '/tmp/disk.img': 'x'.repeat(4096) },
      commands: [{ argv: partxArgv('/tmp/disk.img'), stdout: fixture('partx-file-mbr.txt') }],
    });
    const devices = createBlockDevices({ system, guard: createDeviceGuard({ mode: 'sandbox', disks: ['/tmp/disk.img'] }) });
    const [disk] = await devices.listDisks();
    expect(disk).toMatchObject({ name: '/tmp/disk.img', type: 'file', size: 4096, logicalSectorSize: 512, rotational: false });
    expect(await devices.listPartitions(disk!)).toEqual([
      { number: 1, start: 1048576, size: 8388608, node: null },
      { number: 2, start: 9437184, size: 24100352, node: null },
    ]);
  });

  it('lists the ramdisk disks from one lsblk call', async () => {
    const system = createFakeSystem({ commands: [{ argv: lsblkArgv(), stdout: fixture('lsblk-host.json') }] });
    const devices = createBlockDevices({ system, guard: createDeviceGuard({ mode: 'ramdisk' }) });
    expect((await devices.listDisks()).map((d) => [d.name, d.size, d.physicalSectorSize])).toEqual([['/dev/vda', 274877906944, 4096]]);
  });

  it('takes a disk\'s serial from sysfs when lsblk has none (virtio disks in a ramdisk without udev)', async () => {
    const system = createFakeSystem({ commands: [{ argv: lsblkArgv(), stdout: fixture('lsblk-host.json') }], files: { '/sys/class/block/vda/serial': 'INGOTRAID0A\n' } });
    const devices = createBlockDevices({ system, guard: createDeviceGuard({ mode: 'ramdisk' }) });
    expect((await devices.listDisks()).map((d) => [d.name, d.serial])).toEqual([['/dev/vda', 'INGOTRAID0A']]);
  });

  it('gives kernel partitions their nodes and keeps table entries the kernel does not know, without one', () => {
    const [disk] = parseLsblk(fixture('lsblk-loop-gpt.json'));
    const kernel = disk!.children.slice(0, 2);
    const merged = mergePartitions(kernel, [
      { number: 1, start: 1048576, size: 16777216 },
      { number: 3, start: 34603008, size: 32488960 },
    ]);
    expect(merged).toEqual([
      { number: 1, start: 1048576, size: 16777216, node: '/dev/loop0p1' },
      { number: 2, start: 17825792, size: 16777216, node: '/dev/loop0p2' },
      { number: 3, start: 34603008, size: 32488960, node: null },
    ]);
  });
});
