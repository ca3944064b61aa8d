/**
 * Booting from a software RAID root under UEFI, by the Ingot ramdisk in
 * QEMU (TCG), one boot: apply_configuration with the node's boot_mode uefi
 * (a RAID 1 root over two disks, each of which gets a 550 MiB ESP partition
 * first), a GPT whole-disk image with an ESP written to the root array, and
 * image.install_bootloader (uefi, as Ironic calls it for software RAID):
 * the image's ESP, which firmware cannot see inside the array, is mirrored
 * onto each disk's ESP partition as RAID 1 with metadata 1.0. The host then
 * reads each disk file as firmware would: partition 1 is plain vfat holding
 * the image's loader, byte for byte. The ramdisk boots under SeaBIOS here
 * (no OVMF on the CI host), so NVRAM boot entries are not made; the agent
 * makes one per disk when it booted under UEFI.
 */
import { closeSync, openSync, readFileSync, readSync, truncateSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentClient } from '@ingot/conductor-client';
import type { NodeInfo } from '@ingot/protocol';
import { examinePartitions } from '../support/md-superblocks.ts';
import { checkNginxInstalled, startImageServer } from '../support/nginx-image-server.ts';
import { startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { randomMac } from '../support/simulated-machine.ts';
import { createUefiWholeDiskImage, type UefiWholeDiskImage } from '../support/uefi-whole-disk-image.ts';
import { e2eUnavailable, initrd, kernel, within } from './e2e-support.ts';
import { freePort, startVm, type Vm } from './qemu.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const rootReason = process.getuid?.() === 0 ? undefined : 'attaching member partitions read-only with losetup needs root';
const reason = e2eUnavailable(['sgdisk', 'mkfs.ext4', 'mkfs.vfat', 'mmd', 'mcopy', 'mtype', 'blkid', 'mdadm', 'losetup']) ?? checkNginxInstalled() ?? rootReason;
const uefiBoot = prerequisite('the QEMU software RAID UEFI boot test', reason);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const HOST_IN_GUEST = '10.0.2.100';
const ESP_MiB = 32;
const RAID_CONFIG = {
  logical_disks: [{ size_gb: 'MAX', raid_level: '1', controller: 'software', is_root_volume: true, volume_name: 'root' }],
};

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const bytes = Buffer.alloc(length);
    readSync(fd, bytes, 0, length, offset);
    return bytes;
  } finally { closeSync(fd); }
}

uefiBoot.describe('boot from a software RAID root in UEFI mode: the ESP mirrored onto every member disk (QEMU, one boot)', () => {
  let workDir = '';
  let disks: string[] = [];
  let vm: Vm;
  let client: AgentClient;
  let image: UefiWholeDiskImage;
  let keep = Boolean(process.env.INGOT_KEEP_TEST_FILES);
  const cleanups: Cleanups = [];
  const timings: Record<string, number> = {};
  const since = () => Number(((Date.now() - vm.startedAt) / 1000).toFixed(1));
  const nodeUuid = randomUUID();
  /** As Ironic sends a UEFI deploy with software RAID: the boot mode in the capabilities, target_raid_config set, no root hint. */
  const node: NodeInfo = { uuid: nodeUuid, instance_info: { capabilities: { boot_mode: 'uefi' } }, properties: {}, driver_internal_info: {}, target_raid_config: RAID_CONFIG };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'ingot-raid-uefi-'));
    disks = ['vda', 'vdb'].map((name) => {
      const file = join(workDir, `${name}.img`);
      closeSync(openSync(file, 'w'));
      truncateSync(file, 2 * GiB);
      return file;
    });
    const www = join(workDir, 'www');
    await mkdir(www);
    image = createUefiWholeDiskImage(join(www, 'uefi.img'), { sizeMiB: 64, espMiB: ESP_MiB });
    const nginx = await startImageServer({ root: www, stateDir: join(workDir, 'nginx') });
    cleanups.push(() => nginx.stop());
    const mac = randomMac();
    const conductor = await startTestConductor({ mac }, cleanups, log, { nodeUuid });
    const conductorPort = Number(new URL(conductor.url).port);
    const hostPort = await freePort();
    vm = await startVm({
      kernel, initrd, mac, consoleLog: join(workDir, 'console.log'), hostPort, exposePort: 9999,
      append: ['quiet', 'panic=-1', 'ipa-advertise-host=127.0.0.1', `ipa-advertise-port=${hostPort}`, 'ipa-lookup-timeout=300', `ipa-api-url=http://${HOST_IN_GUEST}:${conductorPort}`].join(' '),
      guestForwards: [
        { guestAddress: HOST_IN_GUEST, guestPort: conductorPort, hostPort: conductorPort },
        { guestAddress: HOST_IN_GUEST, guestPort: 80, hostPort: nginx.port },
      ],
      disks: disks.map((path) => ({ path, bus: 'virtio' as const })),
    });
    cleanups.push(() => vm.stop());
    const beat = await within('the first heartbeat', 180_000, until('the first heartbeat', () => conductor.heartbeats[0], 180_000), vm);
    timings.firstHeartbeat = since();
    client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log, timeoutMs: 60_000 });
    cleanups.push(() => client.close());
  }, 240_000);

  afterAll(async () => {
    if (vm) process.stdout.write(`${JSON.stringify({ e2e: 'raid uefi boot', seconds_from_qemu_start: timings })}\n`);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (keep || !workDir) process.stdout.write(`kept for inspection: ${workDir}\n`);
    else await rm(workDir, { recursive: true, force: true });
  });

  async function step(interfaceName: string, name: string, args: Record<string, unknown>) {
    const { hardwareManagerVersion } = await within('get_deploy_steps', 60_000, client.getDeploySteps(node, []), vm);
    const started = await client.executeDeployStep({ interface: interfaceName, step: name, args }, node, [], hardwareManagerVersion);
    const done = await within(name, 300_000, client.waitForCommand('execute_deploy_step', { id: started.id, intervalMs: 1000, timeoutMs: 300_000 }), vm);
    if (done.command_status !== 'SUCCEEDED') keep = true;
    expect(done.command_error).toBeNull();
    expect(done.command_status).toBe('SUCCEEDED');
    return done;
  }

  it('builds the root mirror, writes the image onto it and mirrors its ESP over both disks; each disk\'s partition 1 reads as plain vfat with the image\'s loader', async () => {
    await step('raid', 'apply_configuration', { raid_config: RAID_CONFIG });
    timings.applied = since();
    const info = { id: 'uefi.img', urls: [`http://${HOST_IN_GUEST}/uefi.img`], os_hash_algo: 'sha256', os_hash_value: image.sha256, disk_format: 'raw', image_type: 'whole-disk', stream_raw_images: true };
    const written = await step('deploy', 'write_image', { image_info: info, configdrive: null });
    expect(JSON.stringify(written.command_result)).toContain('written to device /dev/md0');
    timings.written = since();
    const uuids = await client.getPartitionUuids();
    const bootloader = await within('install_bootloader', 300_000, client.installBootloader({ rootUuid: String(uuids['root uuid'] ?? ''), efiSystemPartUuid: null, targetBootMode: 'uefi', softwareRaid: true }, { intervalMs: 1000, timeoutMs: 300_000 }), vm);
    expect(bootloader.command_status).toBe('SUCCEEDED');
    timings.bootloader = since();
    await within('standby.sync', 60_000, client.sync(), vm);
    await client.powerOff().catch(() => undefined);
    expect((await within('the guest to power off', 120_000, vm.exited)).code).toBe(0);
    timings.poweredOff = since();

    // Firmware's view of each disk: partition 1 is an ESP holding the image's ESP, as vfat, with the same volume id.
    const espBytes = readFileSync(image.path).subarray(MiB, MiB + ESP_MiB * MiB);
    const members: Record<string, { uuid: string; metadata: string; level: string; disk: number }[]> = {};
    for (const [index, disk] of disks.entries()) {
      for (const { partition, superblock } of await examinePartitions(disk)) {
        if (superblock) (members[superblock.name] ??= []).push({ uuid: superblock.uuid, metadata: superblock.metadata, level: superblock.level, disk: index });
        if (partition.number === 1) {
          expect(partition.start).toBe(MiB);
          expect(partition.size).toBe(550 * MiB);
          expect(readAt(disk, partition.start, espBytes.length).equals(espBytes), `disk ${index} partition 1 holds the image's ESP byte for byte`).toBe(true);
          expect(execFileSync('blkid', ['-p', '-O', String(partition.start), '-o', 'value', '-s', 'TYPE', disk], { encoding: 'utf8' }).trim()).toBe('vfat');
          expect(execFileSync('mtype', ['-i', `${disk}@@${partition.start}`, '::EFI/BOOT/BOOTX64.EFI'])).toEqual(image.loader);
        }
      }
    }
    expect(members['any:esp']?.map((m) => [m.disk, m.level, m.metadata])).toEqual([[0, 'raid1', '1.0'], [1, 'raid1', '1.0']]);
    expect(new Set(members['any:esp']!.map((m) => m.uuid)).size).toBe(1);
    expect(members['any:root']?.map((m) => [m.disk, m.level, m.metadata])).toEqual([[0, 'raid1', '1.2'], [1, 'raid1', '1.2']]);
  }, 600_000);
});
