import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isMissingMdDevice, mdadmAssembleScanArgv, mdadmCreateArgv, mdadmDetailArgv, mdadmDetailScanArgv, mdadmExamineArgv, mdadmExamineFullArgv,
  mdadmStopArgv, mdadmWaitArgv, mdadmZeroSuperblockArgv, parseMdadmDetail, parseMdadmDetailScan, parseMdadmExamine, parseMdadmZeroSuperblock,
  parseMdstat, splitMdName, type MdstatArray,
} from './mdadm.ts';

/** Real output of mdadm 4.2 and kernel 6.1 in the ramdisk (test/e2e/capture-mdadm.ts); captures.json holds each exit status. */
const dir = new URL('./fixtures/mdadm/', import.meta.url);
const index = JSON.parse(readFileSync(new URL('captures.json', dir), 'utf8')) as Array<{ name: string; command: string; exitCode: number; stdout: string; stderr: string | null }>;
function capture(name: string): { command: string; exitCode: number; stdout: string; stderr: string } {
  const entry = index.find((c) => c.name === name);
  if (!entry) throw new Error(`no capture named ${name} in fixtures/mdadm/captures.json`);
  return {
    command: entry.command,
    exitCode: entry.exitCode,
    stdout: readFileSync(new URL(entry.stdout, dir), 'utf8'),
    stderr: entry.stderr ? readFileSync(new URL(entry.stderr, dir), 'utf8') : '',
  };
}
const stdout = (name: string) => capture(name).stdout;
const byName = (arrays: MdstatArray[], name: string) => {
  const array = arrays.find((a) => a.name === name);
  if (!array) throw new Error(`no ${name} in ${arrays.map((a) => a.name).join(', ')}`);
  return array;
};

describe('mdadm argv', () => {
  it('creates an array exactly as the captured agent-style create did, homehost any unless told', () => {
    const argv = mdadmCreateArgv({ device: '/dev/md0', level: '1', name: 'root', members: ['/dev/vda2', '/dev/vdb2'], metadata: '1.2' });
    expect(argv.join(' ')).toBe(capture('mdadm-create-raid1-root').command);
    expect(mdadmCreateArgv({ device: '/dev/md1', level: '1', name: 'esp', members: ['/dev/vda1', '/dev/vdb1'], metadata: '1.0' }).join(' '))
      .toBe(capture('mdadm-create-raid1-esp').command);
    expect(mdadmCreateArgv({ device: '/dev/md10', level: '10', name: 'md10', members: ['/dev/vda5', '/dev/vdb5', '/dev/vdc5', '/dev/vdd5'], metadata: '1.2' }).join(' '))
      .toBe(capture('mdadm-create-raid10').command);
    expect(mdadmCreateArgv({ device: '/dev/md3', level: '5', name: 'data', members: ['/dev/sda3', '/dev/sdb3', '/dev/sdc3'], metadata: '1.2', homehost: 'node-7' }))
      .toEqual(['mdadm', '--create', '/dev/md3', '--run', '--force', '--metadata=1.2', '--homehost=node-7', '--name=data', '--level=5', '--raid-devices=3', '/dev/sda3', '/dev/sdb3', '/dev/sdc3']);
  });

  it('builds the other commands as the captures ran them', () => {
    expect(mdadmStopArgv('/dev/md0').join(' ')).toBe(capture('mdadm-stop-md0').command);
    expect(mdadmZeroSuperblockArgv('/dev/vda3').join(' ')).toBe(capture('mdadm-zero-superblock-member').command);
    expect(mdadmAssembleScanArgv().join(' ')).toBe(capture('mdadm-assemble-scan').command);
    expect(mdadmDetailArgv('/dev/md0').join(' ')).toBe(capture('mdadm-detail-export-raid1-clean').command);
    expect(mdadmExamineArgv('/dev/vda2').join(' ')).toBe(capture('mdadm-examine-export-member-1.2').command);
    expect(mdadmExamineFullArgv('/dev/vda2').join(' ')).toBe(capture('mdadm-examine-member-1.2').command);
    expect(mdadmDetailScanArgv().join(' ')).toBe(capture('mdadm-detail-scan').command);
    expect(mdadmWaitArgv('/dev/md0')).toEqual(['mdadm', '--wait', '/dev/md0']);
  });

  it('splits a stored name at its first colon into homehost and name', () => {
    expect(splitMdName('any:root')).toEqual({ homehost: 'any', name: 'root' });
    expect(splitMdName('host:a:b')).toEqual({ homehost: 'host', name: 'a:b' });
    expect(splitMdName('bare')).toEqual({ homehost: null, name: 'bare' });
  });
});

describe('parseMdstat', () => {
  it('finds no array when md is loaded but idle, nor in an empty file', () => {
    expect(parseMdstat(stdout('mdstat-no-arrays'))).toEqual([]);
    expect(parseMdstat(stdout('mdstat-all-stopped'))).toEqual([]);
    expect(parseMdstat('')).toEqual([]);
  });

  it('reads a RAID 1 resyncing right after create: percent, KiB done and total, finish and speed', () => {
    expect(parseMdstat(stdout('mdstat-raid1-resync'))).toEqual([{
      name: 'md0', active: true, readOnly: false, autoReadOnly: false, level: 'raid1',
      members: [{ name: 'vdb2', role: 1, faulty: false, spare: false }, { name: 'vda2', role: 0, faulty: false, spare: false }],
      sizeKiB: 1046528, superblock: '1.2', raidDevices: 2, inSyncDevices: 2,
      sync: { action: 'resync', state: 'running', percent: 20.2, doneKiB: 212032, totalKiB: 1046528, finishMinutes: 0.1, speedKiBPerSecond: 106016 },
    }]);
    expect(byName(parseMdstat(stdout('mdstat-raid1-clean')), 'md0').sync).toBeNull();
  });

  it('reads the metadata 1.0 ESP mirror while it resyncs', () => {
    const esp = byName(parseMdstat(stdout('mdstat-raid1-esp-resync')), 'md1');
    expect(esp).toMatchObject({ level: 'raid1', superblock: '1.0', sizeKiB: 563136 });
    expect(esp.sync).toMatchObject({ action: 'resync', state: 'running', percent: 18.5 });
  });

  it('reads every level at once, one resyncing and two DELAYED behind it on the same disks', () => {
    const arrays = parseMdstat(stdout('mdstat-all-levels-resync-delayed'));
    expect(arrays.map((a) => [a.name, a.level])).toEqual([['md2', 'raid0'], ['md10', 'raid10'], ['md6', 'raid6'], ['md5', 'raid5'], ['md1', 'raid1'], ['md0', 'raid1']]);
    expect(byName(arrays, 'md2')).toMatchObject({ sizeKiB: 258048, raidDevices: null, inSyncDevices: null, sync: null });
    expect(byName(arrays, 'md10')).toMatchObject({ sizeKiB: 520192, raidDevices: 4, inSyncDevices: 4 });
    for (const name of ['md10', 'md6']) {
      expect(byName(arrays, name).sync).toEqual({ action: 'resync', state: 'delayed', percent: null, doneKiB: null, totalKiB: null, finishMinutes: null, speedKiBPerSecond: null });
    }
    expect(byName(arrays, 'md5').sync).toEqual({ action: 'resync', state: 'running', percent: 3.9, doneKiB: 10624, totalKiB: 260096, finishMinutes: 1.5, speedKiBPerSecond: 2656 });
    expect(byName(arrays, 'md5').members.map((m) => m.name)).toEqual(['vdd3', 'vdc3', 'vdb3', 'vda3']);
    expect(byName(arrays, 'md1').sync).toBeNull();
  });

  it('marks a failed member (F) while it is listed, and shows the hole once it is removed', () => {
    const failed = byName(parseMdstat(stdout('mdstat-raid5-member-failed')), 'md5');
    expect(failed.members.find((m) => m.name === 'vdc3')).toEqual({ name: 'vdc3', role: 2, faulty: true, spare: false });
    expect(failed).toMatchObject({ raidDevices: 4, inSyncDevices: 3 });
    const degraded = byName(parseMdstat(stdout('mdstat-raid5-degraded')), 'md5');
    expect(degraded.members.map((m) => m.name)).toEqual(['vdd3', 'vdb3', 'vda3']);
    expect(degraded).toMatchObject({ raidDevices: 4, inSyncDevices: 3, sync: null });
    expect(byName(parseMdstat(stdout('mdstat-raid1-degraded')), 'md0')).toMatchObject({ raidDevices: 2, inSyncDevices: 1 });
  });

  it('reads a recovery onto a re-added member, whose number in brackets is no longer its slot', () => {
    const md5 = byName(parseMdstat(stdout('mdstat-raid5-recovery')), 'md5');
    expect(md5.members[0]).toEqual({ name: 'vdc3', role: 4, faulty: false, spare: false });
    expect(md5.sync).toEqual({ action: 'recovery', state: 'running', percent: 1.3, doneKiB: 3584, totalKiB: 260096, finishMinutes: 3.5, speedKiBPerSecond: 1194 });
  });

  it('tells a spare (S) from the member being recovered', () => {
    const md0 = byName(parseMdstat(stdout('mdstat-raid1-recovery-with-spare')), 'md0');
    expect(md0.members).toEqual([
      { name: 'vdb2', role: 3, faulty: false, spare: true },
      { name: 'vdc2', role: 2, faulty: false, spare: false },
      { name: 'vda2', role: 0, faulty: false, spare: false },
    ]);
    expect(md0.sync).toMatchObject({ action: 'recovery', percent: 0.6, totalKiB: 1046528 });
  });

  it('reads a check as check, and a repair as the resync kernel 6.1 prints for it', () => {
    expect(byName(parseMdstat(stdout('mdstat-raid10-check')), 'md10').sync).toMatchObject({ action: 'check', state: 'running', percent: 2, doneKiB: 10752, totalKiB: 520192 });
    expect(byName(parseMdstat(stdout('mdstat-raid6-repair')), 'md6').sync).toMatchObject({ action: 'resync', state: 'running', percent: 1.3 });
  });

  it('reads an auto-read-only array whose resync is PENDING, then the resync resumed, then read-only', () => {
    expect(parseMdstat(stdout('mdstat-raid1-auto-read-only-resync-pending'))).toEqual([{
      name: 'md3', active: true, readOnly: true, autoReadOnly: true, level: 'raid1',
      members: [{ name: 'vdc4', role: 0, faulty: false, spare: false }, { name: 'vdd4', role: 1, faulty: false, spare: false }],
      sizeKiB: 261120, superblock: '1.2', raidDevices: 2, inSyncDevices: 2,
      sync: { action: 'resync', state: 'pending', percent: null, doneKiB: null, totalKiB: null, finishMinutes: null, speedKiBPerSecond: null },
    }]);
    expect(byName(parseMdstat(stdout('mdstat-raid1-resync-resumed')), 'md3')).toMatchObject({ readOnly: false, sync: { state: 'running', percent: 3.3 } });
    expect(byName(parseMdstat(stdout('mdstat-raid1-read-only')), 'md3')).toMatchObject({ readOnly: true, autoReadOnly: false, sync: null });
  });

  it('reads an inactive array (members found one by one by --incremental) with no level and every member a spare', () => {
    expect(parseMdstat(stdout('mdstat-raid5-inactive'))).toEqual([{
      name: 'md5', active: false, readOnly: false, autoReadOnly: false, level: null,
      members: [{ name: 'vdb3', role: 1, faulty: false, spare: true }, { name: 'vda3', role: 0, faulty: false, spare: true }],
      sizeKiB: 520192, superblock: '1.2', raidDevices: null, inSyncDevices: null, sync: null,
    }]);
  });

  it('reads the arrays --assemble --scan started under the names it chose (md126, md127 for named ones)', () => {
    const arrays = parseMdstat(stdout('mdstat-after-assemble-scan'));
    expect(arrays.map((a) => a.name)).toEqual(['md126', 'md127', 'md5', 'md6', 'md10', 'md2']);
    expect(byName(arrays, 'md126')).toMatchObject({ level: 'raid1', superblock: '1.0' });
  });

  it('accepts an unknown personality and a bitmap line, and skips a status line it does not know', () => {
    const text = [
      'Personalities : [raid1] [frobnicate] ',
      'md7 : active frobnicate sda1[0] sdb1[1](W)',
      '      1024 blocks super 1.2 [2/2] [UU]',
      '      bitmap: 0/1 pages [0KB], 65536KB chunk',
      '      [=>...]  defragment = 10.0% (1/10) finish=1.0min speed=1K/sec',
      '      ',
      'unused devices: <none>',
    ].join('\n');
    expect(parseMdstat(text)).toEqual([{
      name: 'md7', active: true, readOnly: false, autoReadOnly: false, level: 'frobnicate',
      members: [{ name: 'sda1', role: 0, faulty: false, spare: false }, { name: 'sdb1', role: 1, faulty: false, spare: false }],
      sizeKiB: 1024, superblock: '1.2', raidDevices: 2, inSyncDevices: 2, sync: null,
    }]);
  });

  it('makes no array of a line that is not an array header, and refuses an array line it cannot read', () => {
    expect(parseMdstat('Personalities : [raid1]\nread_ahead 1024 sectors\nmdstat : not an array\nmdx : active raid1 a[0]\nunused devices: <none>\n')).toEqual([]);
    expect(parseMdstat('md_home : active raid1 sda1[0]\n')).toMatchObject([{ name: 'md_home', level: 'raid1' }]);
    expect(() => parseMdstat('md0 : active raid1 vda2[0] vdb2\n')).toThrow(/unexpected \/proc\/mdstat array line \(member "vdb2"\)/);
    expect(() => parseMdstat('md0 : degraded raid1 vda2[0]\n')).toThrow(/neither active nor inactive/);
    expect(() => parseMdstat('md0 : active\n')).toThrow(/no personality/);
    expect(() => parseMdstat('md0 : active raid1 vda2[0](X)\n')).toThrow(/member flags/);
  });

  it('leaves a progress figure it cannot believe null rather than inventing one', () => {
    const [array] = parseMdstat('md0 : active raid1 vda[0] vdb[1]\n      100 blocks super 1.2 [2/2] [UU]\n      [====]  resync = 130.5% (5/4) finish=xmin speed=K/sec\n');
    expect(array?.sync).toEqual({ action: 'resync', state: 'running', percent: null, doneKiB: 5, totalKiB: 4, finishMinutes: null, speedKiBPerSecond: null });
  });
});

describe('parseMdadmDetail', () => {
  it('reads a resyncing RAID 1 made by the agent-style create: level, slots, metadata, UUID, name without the homehost', () => {
    expect(parseMdadmDetail(stdout('mdadm-detail-export-raid1-resync'))).toEqual({
      level: 'raid1', raidDevices: 2, metadata: '1.2', uuid: 'fe7fd1fd:22b01ee5:cbdc8628:b4c2c7b3', name: 'root', homehost: 'any', devname: null,
      members: [{ device: '/dev/vdb2', role: '1' }, { device: '/dev/vda2', role: '0' }],
    });
  });

  it('reads the metadata 1.0 ESP mirror and every other level', () => {
    expect(parseMdadmDetail(stdout('mdadm-detail-export-raid1-esp-resync'))).toMatchObject({ level: 'raid1', metadata: '1.0', name: 'esp' });
    expect(parseMdadmDetail(stdout('mdadm-detail-export-md2-clean'))).toMatchObject({ level: 'raid0', raidDevices: 2 });
    expect(parseMdadmDetail(stdout('mdadm-detail-export-md5-clean'))).toMatchObject({ level: 'raid5', raidDevices: 4 });
    expect(parseMdadmDetail(stdout('mdadm-detail-export-md6-clean'))).toMatchObject({ level: 'raid6', raidDevices: 4 });
    const raid10 = parseMdadmDetail(stdout('mdadm-detail-export-md10-clean'));
    expect(raid10).toMatchObject({ level: 'raid10', raidDevices: 4, name: 'md10' });
    expect(raid10.members.map((m) => m.device).sort()).toEqual(['/dev/vda5', '/dev/vdb5', '/dev/vdc5', '/dev/vdd5']);
  });

  it('lists a failed member as the spare mdadm 4.2 calls it, and leaves a removed one out', () => {
    expect(parseMdadmDetail(stdout('mdadm-detail-export-raid5-member-failed')).members).toContainEqual({ device: '/dev/vdc3', role: 'spare' });
    const degraded = parseMdadmDetail(stdout('mdadm-detail-export-raid5-degraded'));
    expect(degraded.raidDevices).toBe(4);
    expect(degraded.members.map((m) => m.device)).toEqual(['/dev/vdd3', '/dev/vdb3', '/dev/vda3']);
    expect(parseMdadmDetail(stdout('mdadm-detail-export-raid5-recovery')).members).toContainEqual({ device: '/dev/vdc3', role: '2' });
  });

  it('reads the /dev/md/ name mdadm --assemble gave, and a spare', () => {
    expect(parseMdadmDetail(stdout('mdadm-detail-export-after-assemble-scan'))).toMatchObject({
      devname: 'root', name: 'root', members: [{ device: '/dev/vdc2', role: '1' }, { device: '/dev/vdb2', role: 'spare' }, { device: '/dev/vda2', role: '0' }],
    });
  });

  it('reads an inactive array, which has no level, its members all spares', () => {
    expect(parseMdadmDetail(stdout('mdadm-detail-export-raid5-inactive'))).toEqual({
      level: null, raidDevices: 2, metadata: '1.2', uuid: 'ec4b6579:d1289f74:b323a53d:0ac1659e', name: 'md5', homehost: 'any', devname: 'md5',
      members: [{ device: '/dev/vdb3', role: 'spare' }, { device: '/dev/vda3', role: 'spare' }],
    });
  });

  it('refuses output without metadata or UUID, naming what is missing', () => {
    expect(() => parseMdadmDetail('')).toThrow(/no valid MD_DEVICES/);
    expect(() => parseMdadmDetail('MD_LEVEL=raid1\nMD_DEVICES=2\nMD_UUID=a:b:c:d\n')).toThrow(/no MD_METADATA/);
    expect(() => parseMdadmDetail('MD_LEVEL=raid1\nMD_DEVICES=2\nMD_METADATA=1.2\n')).toThrow(/no MD_UUID/);
    expect(() => parseMdadmDetail('MD_DEVICES=2\nMD_METADATA=1.2\nMD_UUID=a\nMD_DEVICE_dev_x_ROLE=0\n')).toThrow(/MD_DEVICE_dev_x_ROLE but no device/);
  });

  it('says when an md device node does not exist, and not when it exists but is no array', () => {
    const missing = capture('mdadm-detail-export-missing');
    expect(isMissingMdDevice(missing.exitCode, missing.stderr)).toBe(true);
    const stopMissing = capture('mdadm-stop-missing');
    expect(isMissingMdDevice(stopMissing.exitCode, stopMissing.stderr)).toBe(true);
    const notMd = capture('mdadm-detail-export-not-md');
    expect(notMd.exitCode).toBe(1);
    expect(isMissingMdDevice(notMd.exitCode, notMd.stderr)).toBe(false);
  });
});

describe('parseMdadmExamine', () => {
  it('reads a metadata 1.2 member from --export, which carries no metadata version or role', () => {
    const c = capture('mdadm-examine-export-member-1.2');
    expect(parseMdadmExamine(c.exitCode, c.stdout, c.stderr)).toEqual({
      level: 'raid1', raidDevices: 2, uuid: 'fe7fd1fd:22b01ee5:cbdc8628:b4c2c7b3', name: 'root', homehost: 'any', metadata: null,
      deviceUuid: '13afc8be:4b73af90:2aa6825e:eb1341ee', events: 42,
    });
  });

  it('reads metadata version and role from plain --examine, for 1.2 and 1.0 members', () => {
    const plain12 = capture('mdadm-examine-member-1.2');
    expect(parseMdadmExamine(plain12.exitCode, plain12.stdout, plain12.stderr)).toEqual({
      level: 'raid1', raidDevices: 2, uuid: 'fe7fd1fd:22b01ee5:cbdc8628:b4c2c7b3', name: 'root', homehost: 'any', metadata: '1.2',
      deviceUuid: '13afc8be:4b73af90:2aa6825e:eb1341ee', events: 42, role: '0',
    });
    const plain10 = capture('mdadm-examine-member-1.0');
    expect(parseMdadmExamine(plain10.exitCode, plain10.stdout, plain10.stderr)).toMatchObject({ metadata: '1.0', name: 'esp', role: '0' });
    const export10 = capture('mdadm-examine-export-member-1.0');
    expect(parseMdadmExamine(export10.exitCode, export10.stdout, export10.stderr)).toMatchObject({ level: 'raid1', name: 'esp', metadata: null });
  });

  it('reads a RAID 5 member and a spare', () => {
    const raid5 = capture('mdadm-examine-export-raid5-member');
    expect(parseMdadmExamine(raid5.exitCode, raid5.stdout, raid5.stderr)).toMatchObject({ level: 'raid5', raidDevices: 4, name: 'md5' });
    const spare = capture('mdadm-examine-export-spare');
    expect(parseMdadmExamine(spare.exitCode, spare.stdout, spare.stderr)).toMatchObject({ level: 'raid1', name: 'root' });
  });

  it('says no superblock on a blank disk and on a zeroed member (exit 1, "No md superblock detected")', () => {
    for (const name of ['mdadm-examine-export-blank', 'mdadm-examine-blank', 'mdadm-examine-export-zeroed', 'mdadm-examine-zeroed']) {
      const c = capture(name);
      expect(c.exitCode, name).toBe(1);
      expect(parseMdadmExamine(c.exitCode, c.stdout, c.stderr), name).toBeNull();
    }
  });

  it('says no superblock on a disk holding only a GPT: --export exits 0 saying nothing, plain describes the MBR', () => {
    for (const name of ['mdadm-examine-export-gpt-disk', 'mdadm-examine-gpt-disk']) {
      const c = capture(name);
      expect(c.exitCode, name).toBe(0);
      expect(parseMdadmExamine(c.exitCode, c.stdout, c.stderr), name).toBeNull();
    }
  });

  it('throws on any other failure, with what mdadm said about the device', () => {
    expect(() => parseMdadmExamine(2, '', 'mdadm: cannot open /dev/sdz: No such file or directory\n')).toThrow('mdadm --examine failed with exit status 2: mdadm: cannot open /dev/sdz: No such file or directory');
    expect(() => parseMdadmExamine(1, '', 'mdadm: cannot open /dev/sdz: Permission denied')).toThrow(/exit status 1: .*Permission denied/);
    expect(() => parseMdadmExamine(0, 'something else entirely', '')).toThrow(/nothing it recognises/);
    expect(() => parseMdadmExamine(0, 'MD_DEVICES=2\nMD_UUID=a\n', '')).toThrow(/no MD_LEVEL/);
  });
});

describe('parseMdadmDetailScan', () => {
  it('reads the ARRAY lines of running arrays, fit for an mdadm.conf', () => {
    const arrays = parseMdadmDetailScan(stdout('mdadm-detail-scan'));
    expect(arrays.map((a) => [a.device, a.metadata, a.name])).toEqual([
      ['/dev/md0', '1.2', 'root'], ['/dev/md1', '1.0', 'esp'], ['/dev/md5', '1.2', 'md5'], ['/dev/md6', '1.2', 'md6'], ['/dev/md10', '1.2', 'md10'], ['/dev/md2', '1.2', 'md2'],
    ]);
    expect(arrays[0]).toEqual({
      device: '/dev/md0', metadata: '1.2', name: 'root', homehost: 'any', uuid: 'fe7fd1fd:22b01ee5:cbdc8628:b4c2c7b3', active: true,
      line: 'ARRAY /dev/md0 metadata=1.2 spares=1 name=any:root UUID=fe7fd1fd:22b01ee5:cbdc8628:b4c2c7b3',
    });
  });

  it('joins continuation lines of --verbose and --examine --scan to their ARRAY', () => {
    const verbose = parseMdadmDetailScan(stdout('mdadm-detail-scan-verbose'));
    expect(verbose).toHaveLength(6);
    expect(verbose[0]?.line).toMatch(/ devices=\/dev\/vda2,\/dev\/vdb2,\/dev\/vdc2$/);
    const examined = parseMdadmDetailScan(stdout('mdadm-examine-scan'));
    expect(examined.map((a) => a.device)).toEqual(['/dev/md/esp', '/dev/md/root', '/dev/md/md5', '/dev/md/md6', '/dev/md/md10', '/dev/md/md2']);
    expect(examined[1]?.line).toMatch(/name=any:root spares=1$/);
  });

  it('reads the /dev/md/ names after --assemble --scan, and an INACTIVE-ARRAY', () => {
    expect(parseMdadmDetailScan(stdout('mdadm-detail-scan-after-assemble-scan')).map((a) => a.device)).toContain('/dev/md/root');
    expect(parseMdadmDetailScan(stdout('mdadm-detail-scan-inactive'))).toEqual([{
      device: '/dev/md/md5', metadata: '1.2', name: 'md5', homehost: 'any', uuid: 'ec4b6579:d1289f74:b323a53d:0ac1659e', active: false,
      line: 'INACTIVE-ARRAY /dev/md/md5 metadata=1.2 name=any:md5 UUID=ec4b6579:d1289f74:b323a53d:0ac1659e',
    }]);
  });

  it('finds nothing in empty output and refuses an ARRAY line without a UUID', () => {
    expect(parseMdadmDetailScan('')).toEqual([]);
    expect(() => parseMdadmDetailScan('ARRAY /dev/md0 metadata=1.2 name=any:root\n')).toThrow(/without a device or UUID/);
  });
});

describe('exit statuses the steps meet', () => {
  it('counts zeroing a device with no superblock as done (exit 0), and refuses a member of a running array (exit 2)', () => {
    const blank = capture('mdadm-zero-superblock-blank');
    expect(parseMdadmZeroSuperblock(blank.exitCode, blank.stderr)).toBe('none');
    const member = capture('mdadm-zero-superblock-member');
    expect(parseMdadmZeroSuperblock(member.exitCode, member.stderr)).toBe('zeroed');
    const busy = capture('mdadm-zero-superblock-active-member');
    expect(busy.exitCode).toBe(2);
    expect(() => parseMdadmZeroSuperblock(busy.exitCode, busy.stderr)).toThrow(/Couldn't open \/dev\/vda2 for write - not zeroing \(is it still a member of a running array\? stop the array first\)/);
  });

  it('records what create, assemble and stop print (on stderr) and how they exit', () => {
    expect(capture('mdadm-create-raid1-root')).toMatchObject({ exitCode: 0, stdout: '', stderr: 'mdadm: array /dev/md0 started.\n' });
    expect(capture('mdadm-create-raid1-member-busy')).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/create aborted/) });
    expect(capture('mdadm-assemble-scan').stderr).toMatch(/\/dev\/md\/root has been started with 2 drives and 1 spare/);
    expect(capture('mdadm-assemble-scan-again')).toMatchObject({ exitCode: 1, stderr: 'mdadm: No arrays found in config file or automatically\n' });
    expect(capture('mdadm-assemble-raid5-two-of-four')).toMatchObject({ exitCode: 1, stderr: expect.stringMatching(/not enough to start the array/) });
    expect(capture('mdadm-stop-md0')).toMatchObject({ exitCode: 0, stderr: 'mdadm: stopped /dev/md0\n' });
    expect(capture('mdadm-version').stderr).toMatch(/^mdadm - v4\.2 /);
  });
});
