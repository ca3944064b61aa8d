/**
 * Booting from a software RAID root, by the Ingot ramdisk in QEMU (TCG).
 *
 * UEFI, one boot: apply_configuration with the node's boot_mode uefi
 * (a RAID 1 root over two disks, each of which gets a 550 MiB ESP partition
 * first), a GPT whole-disk image with an ESP written to the root array, and
 * image.install_bootloader (uefi, as Ironic calls it for software RAID):
 * the image's ESP, which firmware cannot see inside the array, is mirrored
 * onto each disk's ESP partition as RAID 1 with metadata 1.0. The host then
 * reads each disk file as firmware would: partition 1 is plain vfat holding
 * the image's loader, byte for byte. The ramdisk boots under SeaBIOS here
 * (no OVMF on the CI host), so NVRAM boot entries are not made; the agent
 * makes one per disk when it booted under UEFI. The image comes with a
 * config drive, which lands inside the root array as the image's last
 * partition, config-2.
 *
 * BIOS, one boot: a RAID 1 root over two msdos disks, a partition image
 * holding GRUB and mdadm (this host's, test/support/grub-root.ts)
 * written onto the array, and install_bootloader bios with the conductor's
 * enable_bios_bootloader_install: the image's grub-install, in a chroot of
 * the root inside the array, writes its boot code to BOTH disks, so either
 * one boots alone. The host checks each disk's MBR and post-MBR gap.
 */
import { closeSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentClient } from '@ingot/conductor-client';
import type { NodeInfo } from '@ingot/protocol';
import { readAt } from '../support/disk-file-reader.ts';
import { examinePartitions, withReadOnlyLoop } from '../support/md-superblocks.ts';
import { checkNginxInstalled, startImageServer } from '../support/nginx-image-server.ts';
import { startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { randomMac } from '../support/simulated-machine.ts';
import { createUefiWholeDiskImage } from '../support/uefi-whole-disk-image.ts';
import { buildGrubRootImage, grubRootUnavailable } from '../support/grub-root.ts';
import { e2eUnavailable, initrd, kernel, within } from './e2e-support.ts';
import { freePort, startVm, type Vm } from './qemu.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const rootReason = process.getuid?.() === 0 ? undefined : 'attaching member partitions read-only with losetup needs root';
const reason = e2eUnavailable(['sgdisk', 'mkfs.ext4', 'mkfs.vfat', 'mmd', 'mcopy', 'mtype', 'blkid', 'mdadm', 'losetup']) ?? checkNginxInstalled() ?? rootReason;
const uefiBoot = prerequisite('the QEMU software RAID UEFI boot test', reason);
const biosBoot = prerequisite('the QEMU software RAID BIOS boot test', reason ?? grubRootUnavailable(['i386-pc']) ?? undefined);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const HOST_IN_GUEST = '10.0.2.100';
const ESP_MiB = 32;
const RAID_CONFIG = {
  logical_disks: [{ size_gb: 'MAX', raid_level: '1', controller: 'software', is_root_volume: true, volume_name: 'root' }],
};

/** One QEMU boot with two blank 2 GiB virtio disks, paired with a test conductor; steps as Ironic sends them. */
function raidBoot(label: string, options: { node: NodeInfo; lookupConfig?: Record<string, unknown> }) {
  const state = {
    workDir: '', www: '', disks: [] as string[], vm: undefined as unknown as Vm, client: undefined as unknown as AgentClient,
    keep: Boolean(process.env.INGOT_KEEP_TEST_FILES), timings: {} as Record<string, number>,
    since: () => Number(((Date.now() - state.vm.startedAt) / 1000).toFixed(1)),
  };
  const cleanups: Cleanups = [];

  beforeAll(async () => {
    state.workDir = await mkdtemp(join(tmpdir(), `ingot-raid-${label}-`));
    state.disks = ['vda', 'vdb'].map((name) => {
      const file = join(state.workDir, `${name}.img`);
      closeSync(openSync(file, 'w'));
      truncateSync(file, 2 * GiB);
      return file;
    });
    state.www = join(state.workDir, 'www');
    await mkdir(state.www);
    const nginx = await startImageServer({ root: state.www, stateDir: join(state.workDir, 'nginx') });
    cleanups.push(() => nginx.stop());
    const mac = randomMac();
    const conductor = await startTestConductor({ mac }, cleanups, log, { nodeUuid: options.node.uuid, extraLookupConfig: options.lookupConfig });
    const conductorPort = Number(new URL(conductor.url).port);
    const hostPort = await freePort();
    state.vm = await startVm({
      kernel, initrd, mac, consoleLog: join(state.workDir, 'console.log'), hostPort, exposePort: 9999,
      append: ['quiet', 'panic=-1', 'ipa-advertise-host=127.0.0.1', `ipa-advertise-port=${hostPort}`, 'ipa-lookup-timeout=300', `ipa-api-url=http://${HOST_IN_GUEST}:${conductorPort}`].join(' '),
      guestForwards: [
        { guestAddress: HOST_IN_GUEST, guestPort: conductorPort, hostPort: conductorPort },
        { guestAddress: HOST_IN_GUEST, guestPort: 80, hostPort: nginx.port },
      ],
      disks: state.disks.map((path) => ({ path, bus: 'virtio' as const })),
    });
    cleanups.push(() => state.vm.stop());
    const beat = await within('the first heartbeat', 180_000, until('the first heartbeat', () => conductor.heartbeats[0], 180_000), state.vm);
    state.timings.firstHeartbeat = state.since();
    state.client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log, timeoutMs: 60_000 });
    cleanups.push(() => state.client.close());
  }, 240_000);

  afterAll(async () => {
    if (state.vm) process.stdout.write(`${JSON.stringify({ e2e: `raid ${label} boot`, seconds_from_qemu_start: state.timings })}\n`);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (state.keep || !state.workDir) process.stdout.write(`kept for inspection: ${state.workDir}\n`);
    else await rm(state.workDir, { recursive: true, force: true });
  });

  /** execute_deploy_step, polled to its end: it must succeed. */
  async function step(interfaceName: string, name: string, args: Record<string, unknown>) {
    const { client, vm } = state;
    const { hardwareManagerVersion } = await within('get_deploy_steps', 60_000, client.getDeploySteps(options.node, []), vm);
    const started = await client.executeDeployStep({ interface: interfaceName, step: name, args }, options.node, [], hardwareManagerVersion);
    const done = await within(name, 300_000, client.waitForCommand('execute_deploy_step', { id: started.id, intervalMs: 1000, timeoutMs: 300_000 }), vm);
    if (done.command_status !== 'SUCCEEDED') state.keep = true;
    expect(done.command_error).toBeNull();
    expect(done.command_status).toBe('SUCCEEDED');
    return done;
  }

  /** standby.sync, then standby.power_off: QEMU exits with 0 and the disk files hold what the guest wrote. */
  async function powerOff() {
    const { client, vm } = state;
    await within('standby.sync', 60_000, client.sync(), vm);
    await client.powerOff().catch(() => undefined);
    expect((await within('the guest to power off', 120_000, vm.exited)).code).toBe(0);
    state.timings.poweredOff = state.since();
  }

  /** Array name (`any:root`) → the disks holding a member, with level and superblock version. */
  async function superblocks() {
    const members: Record<string, { uuid: string; metadata: string; level: string; disk: number }[]> = {};
    for (const [index, disk] of state.disks.entries()) {
      for (const { superblock } of await examinePartitions(disk)) {
        if (superblock) (members[superblock.name] ??= []).push({ uuid: superblock.uuid, metadata: superblock.metadata, level: superblock.level, disk: index });
      }
    }
    return members;
  }

  return { state, step, powerOff, superblocks };
}

uefiBoot.describe('boot from a software RAID root in UEFI mode: the ESP mirrored onto every member disk (QEMU, one boot)', () => {
  const node: NodeInfo = { uuid: randomUUID(), instance_info: { capabilities: { boot_mode: 'uefi' } }, properties: {}, driver_internal_info: {}, target_raid_config: RAID_CONFIG };
  const { state, step, powerOff, superblocks } = raidBoot('uefi', { node });

  it('builds the root mirror, writes the image onto it and mirrors its ESP over both disks; each disk\'s partition 1 reads as plain vfat with the image\'s loader', async () => {
    const { client, vm, timings, since, disks } = state;
    const image = createUefiWholeDiskImage(join(state.www, 'uefi.img'), { sizeMiB: 64, espMiB: ESP_MiB });
    await step('raid', 'apply_configuration', { raid_config: RAID_CONFIG });
    timings.applied = since();
    // The inventory lists the array beside its disks, as IPA's lists raid devices (what root device hints choose among).
    const info = await within('poll.get_hardware_info', 60_000, client.runCommand('poll.get_hardware_info', {}, { wait: true }), vm);
    const listed = ((info.command_result as { disks?: Array<{ name: string; size: number }> }).disks ?? []).map((disk) => disk.name);
    expect(listed).toEqual(expect.arrayContaining(['/dev/vda', '/dev/vdb', '/dev/md0']));
    const imageInfo = { id: 'uefi.img', urls: [`http://${HOST_IN_GUEST}/uefi.img`], os_hash_algo: 'sha256', os_hash_value: image.sha256, disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true };
    // With a config drive (an ISO labelled config-2, gzipped and base64ed as Ironic sends it): it goes onto the array too.
    const configdrive = readFileSync(new URL('../../agent/src/image/request/fixtures/configdrive-iso.gz.b64', import.meta.url), 'utf8').trim();
    const written = await step('deploy', 'write_image', { image_info: { ...imageInfo, configdrive }, configdrive });
    expect(JSON.stringify(written.command_result)).toContain('written to device /dev/md0');
    timings.written = since();
    const uuids = await client.getPartitionUuids();
    const bootloader = await within('install_bootloader', 300_000, client.installBootloader({ rootUuid: String(uuids['root uuid'] ?? ''), efiSystemPartUuid: null, targetBootMode: 'uefi', softwareRaid: true }, { intervalMs: 1000, timeoutMs: 300_000 }), vm);
    expect(bootloader.command_status).toBe('SUCCEEDED');
    timings.bootloader = since();
    await powerOff();

    // Firmware's view of each disk: partition 1 is an ESP holding the image's ESP, as vfat, with the same volume id.
    const espBytes = readFileSync(image.path).subarray(MiB, MiB + ESP_MiB * MiB);
    for (const [index, disk] of disks.entries()) {
      for (const { partition } of await examinePartitions(disk)) {
        if (partition.number === 1) {
          expect(partition.start).toBe(MiB);
          expect(partition.size).toBe(550 * MiB);
          expect(readAt(disk, partition.start, espBytes.length).equals(espBytes), `disk ${index} partition 1 holds the image's ESP byte for byte`).toBe(true);
          expect(execFileSync('blkid', ['-p', '-O', String(partition.start), '-o', 'value', '-s', 'TYPE', disk], { encoding: 'utf8' }).trim()).toBe('vfat');
          expect(execFileSync('mtype', ['-i', `${disk}@@${partition.start}`, '::EFI/BOOT/BOOTX64.EFI'])).toEqual(image.loader);
        }
      }
    }
    // The array's content as the host finds it on disk 0's member partition, past mdadm's data offset: the image's
    // GPT with the config drive added as its last partition, named config-2, holding the ISO.
    const root = (await examinePartitions(disks[0]!)).find((entry) => entry.superblock?.name === 'any:root')!;
    const arrayStart = root.partition.start + root.superblock!.dataOffset;
    const found = await withReadOnlyLoop(disks[0]!, arrayStart, root.partition.size - root.superblock!.dataOffset, async (device) => {
      const table = execFileSync('sgdisk', ['--print', device], { encoding: 'utf8' });
      const entry = /^\s*(\d+)\s+(\d+)\s+\d+\s+.*\bconfig-2\s*$/m.exec(table);
      if (!entry) return { table };
      const probe = execFileSync('blkid', ['-p', '-O', String(Number(entry[2]) * 512), '-o', 'export', device], { encoding: 'utf8' });
      return { table, number: Number(entry[1]), probe };
    });
    expect(found.number, found.table).toBe(3);
    expect(found.probe).toMatch(/^TYPE=iso9660$/m);
    expect(found.probe).toMatch(/^LABEL=config-2$/m);

    const members = await superblocks();
    expect(members['any:esp']?.map((m) => [m.disk, m.level, m.metadata])).toEqual([[0, 'raid1', '1.0'], [1, 'raid1', '1.0']]);
    expect(new Set(members['any:esp']!.map((m) => m.uuid)).size).toBe(1);
    expect(members['any:root']?.map((m) => [m.disk, m.level, m.metadata])).toEqual([[0, 'raid1', '1.2'], [1, 'raid1', '1.2']]);
  }, 600_000);
});

biosBoot.describe('boot from a software RAID root in BIOS mode: the image\'s GRUB on every member disk (QEMU, one boot)', () => {
  const node: NodeInfo = { uuid: randomUUID(), instance_info: {}, properties: {}, driver_internal_info: {}, target_raid_config: RAID_CONFIG };
  // The conductor allows legacy BIOS GRUB installs (IPA's enable_bios_bootloader_install, off by default).
  const { state, step, powerOff, superblocks } = raidBoot('bios', { node, lookupConfig: { enable_bios_bootloader_install: true } });

  it('writes a partition image holding GRUB onto the root mirror and installs the image\'s GRUB onto both disks: each MBR and post-MBR gap holds it', async () => {
    const { client, vm, timings, since, disks } = state;
    const rootUuid = randomUUID();
    // With mdadm, as any OS on RAID has it: grub-probe runs it to name the root's array.
    buildGrubRootImage(join(state.www, 'grub-root.img'), { platforms: ['i386-pc'], uuid: rootUuid, sizeMiB: 64, extraPrograms: ['/usr/sbin/mdadm'] });
    const served = readFileSync(join(state.www, 'grub-root.img'));
    await step('raid', 'apply_configuration', { raid_config: RAID_CONFIG });
    timings.applied = since();
    const imageInfo = {
      id: 'grub-root.img', urls: [`http://${HOST_IN_GUEST}/grub-root.img`], disk_format: 'raw', container_format: 'bare', stream_raw_images: true,
      os_hash_algo: 'sha256', os_hash_value: createHash('sha256').update(served).digest('hex'), node_uuid: node.uuid,
      root_gb: 1, root_mb: 256, swap_mb: 0, ephemeral_mb: 0, ephemeral_format: null, configdrive: null, preserve_ephemeral: false,
      image_type: 'partition', deploy_boot_mode: 'bios', boot_option: 'local',
    };
    // With a config drive (an ISO labelled config-2, gzipped and base64ed as Ironic sends it): it goes onto the array too.
    const configdrive = readFileSync(new URL('../../agent/src/image/request/fixtures/configdrive-iso.gz.b64', import.meta.url), 'utf8').trim();
    const written = await step('deploy', 'write_image', { image_info: { ...imageInfo, configdrive }, configdrive });
    expect(JSON.stringify(written.command_result)).toContain('written to device /dev/md0');
    timings.written = since();
    expect((await client.getPartitionUuids())['root uuid']).toBe(rootUuid);
    const installed = await within('install_bootloader', 300_000, client.installBootloader({ rootUuid, efiSystemPartUuid: null, targetBootMode: 'bios', softwareRaid: true }, { intervalMs: 1000, timeoutMs: 300_000 }), vm);
    if (installed.command_status !== 'SUCCEEDED') state.keep = true;
    expect(installed.command_error).toBeNull();
    timings.bootloader = since();
    await powerOff();

    // What SeaBIOS reads from each disk: GRUB's boot.img in the MBR (its "GRUB " string) and core.img in the gap before partition 1.
    for (const [index, disk] of disks.entries()) {
      const head = readAt(disk, 0, MiB);
      expect(head.subarray(0, 440).includes(Buffer.from('GRUB ')), `disk ${index}: GRUB's boot code in the MBR`).toBe(true);
      expect(head.readUInt16LE(510)).toBe(0xaa55);
      expect(head.subarray(512).some((byte) => byte !== 0), `disk ${index}: core.img in the post-MBR gap`).toBe(true);
    }
    const members = await superblocks();
    expect(members['any:root']?.map((m) => [m.disk, m.level, m.metadata])).toEqual([[0, 'raid1', '1.2'], [1, 'raid1', '1.2']]);
  }, 600_000);
});
