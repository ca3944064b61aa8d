/**
 * Deploys by the Ingot ramdisk inside QEMU, all in ONE boot (a TCG boot
 * costs ~20 s of CI; the agent takes one deploy after another as it would a
 * re-deploy). The ramdisk pairs with a conductor on the host (token,
 * automatic TLS), and AgentClient drives it the way Ironic drives a deploy
 * (ironic-conductor.md §6(b)):
 * 1. a zstd-compressed whole-disk image, which Debian's nginx on the host
 *    serves through a guestfwd relay, written onto the hinted /dev/vdb;
 * 1b. a block-level snapshot (snapshot.capture, issue 13) of /dev/vdd, a
 *    256 MiB disk deployed with the same image first, to a real Swift on the
 *    host (temp URLs for 1 MiB segments through a guestfwd relay; the host
 *    completes the static large object): the disk file's mtime proves the
 *    capture wrote nothing; the host then punches the whole file to zeros,
 *    and write_image of the snapshot (with its ingot_snapshot checks) makes
 *    it identical again, byte for byte;
 * 2. a partition image in UEFI mode onto /dev/vdc: the agent lays out an ESP
 *    and the root, then image.install_bootloader mounts both (the ESP is
 *    vfat, which this host's kernel may lack and the ramdisk's has) and runs
 *    the image's own grub-install --removable --no-nvram and grub-mkconfig
 *    in a chroot (ipa-protocol.md 9.9 step 3). NVRAM entries would need the
 *    ramdisk booted under UEFI firmware; that path is not tried here;
 * 3. rescue of the deployed guest, last because a rescued agent takes no
 *    more commands (ironic-conductor.md: RESCUEWAIT's finalize_rescue):
 *    the conductor library's rescue action sends rescue.finalize_rescue
 *    with a SHA-512 crypt hash, as Ironic does; the agent's API goes away, /init adds the user `rescue`, and the test
 *    logs in on the serial console (a wrong password first), reads the
 *    deployed disk as root and powers the guest off with `poweroff -f`, the
 *    tool standby.power_off runs. It takes the place of a standby.power_off
 *    case: a second TCG boot for rescue alone would cost ~30 s of CI, and
 *    the power-off itself is still proven here; standby.power_off's wire
 *    path is covered by the integration tests (agent-pairing, ironic).
 * Each deploy's disk file is read from the host, without mounting, once
 * standby.sync has returned; after QEMU has exited, no disk file was written
 * during the rescue and the disk no deploy named is as it was.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, createReadStream, openSync, statSync, truncateSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '@ingot/conductor-client';
import { buildImageInfo, driveRescue, snapshotDeployImage } from '@ingot/conductor-client/reference-conductor';
import { createSwiftStore } from '@ingot/conductor-client/snapshot';
import type { NodeInfo } from '@ingot/protocol';
import { ESP_TYPE, listFatFiles, readExt4File, readFatFile, readPartitionTable } from '../support/disk-file-reader.ts';
import { buildGrubRootImage, grubRootUnavailable, TEST_KERNEL } from '../support/grub-root.ts';
import { checkNginxInstalled, startImageServer, type ImageServer } from '../support/nginx-image-server.ts';
import { checkSwiftInstalled, startSwift, type SwiftServer } from '../support/swift-server.ts';
import { startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { createSimulatedMachine, remainingSignatures, type SimulatedMachine } from '../support/simulated-machine.ts';
import { compressImageZstd, createWholeDiskImage, deployedImageDigest, readDeployedMarker, type WholeDiskImage } from '../support/whole-disk-image.ts';
import { e2eUnavailable, initrd, kernel, ramdiskManifest, readRamdiskModules, within } from './e2e-support.ts';
import { freePort, startVm, type Vm } from './qemu.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const reason = e2eUnavailable(['sgdisk', 'sfdisk', 'mkfs.ext4', 'blkid', 'debugfs', 'openssl']) ?? checkNginxInstalled() ?? checkSwiftInstalled() ?? undefined;
if (reason && !process.env.CI) process.stdout.write(`skipping the QEMU deploy tests: ${reason}\n`);
/** The UEFI case also builds its partition image from this host's GRUB, and reads the ESP with mtools. */
const grubReason = reason ?? grubRootUnavailable(['x86_64-efi']) ?? e2eUnavailable(['mdir', 'mtype']);
if (grubReason && !reason && !process.env.CI) process.stdout.write(`skipping the QEMU UEFI GRUB test: ${grubReason}\n`);
const failInCi = (why: string) => new Error(`${why} (CI is set, so this is a failure rather than a skip)`);

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const IMAGE_MiB = 48;
/**
 * vdb, the whole-disk target, is a sparse 4 GiB file, IPA's minimum for a
 * disk chosen without hints (MIN_ROOT_DISK_BYTES, ipa-protocol.md 9.10), so
 * the hint and the agent's own choice agree. vdc, the partition-image target,
 * is smaller: only its hint can choose it.
 */
const WHOLE_DISK_TARGET_BYTES = 4 * GiB;
const PARTITION_TARGET_BYTES = 2 * GiB;
/** vdd: the snapshot case's disk. */
const SNAPSHOT_DISK_BYTES = 256 * MiB;
/** Where the guest sees the host: both the conductor and nginx are relayed from this address. */
const HOST_IN_GUEST = '10.0.2.100';
const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a09';

/** Undone after each test; what the boot made is undone after all of them. */
const cleanups: Cleanups = [];
const bootCleanups: Cleanups = [];
let anyFailed = false;
async function undo(list: Cleanups): Promise<void> {
  for (const cleanup of list.splice(0).reverse()) {
    try { await cleanup(); } catch (error) { process.stderr.write(`cleanup failed: ${String(error)}\n`); }
  }
}
afterEach(async (context) => {
  if (context.task.result?.state === 'fail') anyFailed = true;
  await undo(cleanups);
});

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What any write by the guest changes: QEMU writes a raw disk with pwrite,
 * which moves the file's mtime and ctime (and its block count when it fills
 * a hole). Reading a 4 GiB sparse file for a digest costs ~7 s here; this
 * costs nothing and also catches a write of the same bytes.
 */
function writeStamp(path: string): string {
  const info = statSync(path, { bigint: true });
  return `mtime ${info.mtimeNs} ctime ${info.ctimeNs} blocks ${info.blocks} size ${info.size}`;
}

function sparseFile(path: string, size: number): string {
  closeSync(openSync(path, 'w'));
  truncateSync(path, size);
  return path;
}

describe.skipIf(reason !== undefined && !process.env.CI)('deploys by the Ingot ramdisk in QEMU (TCG), one boot', () => {
  let machine: SimulatedMachine;
  let vm: Vm;
  let client: AgentClient;
  let nginx: ImageServer;
  let swift: SwiftServer;
  let www = '';
  let wholeDiskTarget = '';
  let partitionTarget = '';
  let snapshotTarget = '';
  let untouchedBefore = '';
  let wholeDiskImage: WholeDiskImage | undefined;
  let heartbeats: unknown[] = [];
  const timings: Record<string, number> = {};
  const since = () => Number(((Date.now() - vm.startedAt) / 1000).toFixed(1));

  beforeAll(async () => {
    try {
      await boot();
    } catch (error) {
      anyFailed = true; // keep the console log of a boot that failed
      throw error;
    }
  }, 240_000);

  async function boot(): Promise<void> {
    if (reason) throw failInCi(reason);
    // vda: a used 64 MiB disk (GPT + ext4) that no deploy names and that must survive; vdb and vdc: blank, sparse targets.
    machine = createSimulatedMachine({ disks: 1, sizeMiB: 64 });
    bootCleanups.push(() => { if (anyFailed || process.env.INGOT_KEEP_TEST_FILES) process.stdout.write(`kept for inspection: ${machine.dir} (console ${join(machine.dir, 'console.log')}; nginx log ${join(machine.dir, 'nginx')})\n`); else machine.remove(); });
    wholeDiskTarget = sparseFile(join(machine.dir, 'whole-disk-target.img'), WHOLE_DISK_TARGET_BYTES);
    partitionTarget = sparseFile(join(machine.dir, 'partition-target.img'), PARTITION_TARGET_BYTES);
    snapshotTarget = sparseFile(join(machine.dir, 'snapshot-target.img'), SNAPSHOT_DISK_BYTES);
    untouchedBefore = await fileDigest(machine.disks[0]!);
    expect(remainingSignatures(machine.disks[0]!)).toEqual(['gpt@0', 'ext4@1048576']);

    www = join(machine.dir, 'www');
    await mkdir(www);
    nginx = await startImageServer({ root: www, stateDir: join(machine.dir, 'nginx') });
    bootCleanups.push(() => nginx.stop());

    // Swift for the snapshot case, starting while the guest boots; its proxy port is fixed now for the guest's forward.
    const swiftPort = await freePort();
    const swiftStarted = startSwift({ stateDir: join(machine.dir, 'swift'), proxyPort: swiftPort });
    bootCleanups.push(async () => (await swiftStarted.catch(() => undefined))?.stop());

    const conductor = await startTestConductor(machine, bootCleanups, log, { nodeUuid: NODE_UUID });
    heartbeats = conductor.heartbeats;
    const conductorPort = Number(new URL(conductor.url).port);
    const hostPort = await freePort();
    const consoleLog = join(machine.dir, 'console.log');
    vm = await startVm({
      kernel, initrd, mac: machine.mac, consoleLog, hostPort, exposePort: 9999,
      // The agent is reached through hostfwd on the host's loopback: advertise that, so the TLS certificate's SAN is 127.0.0.1.
      append: ['quiet', 'panic=-1', 'ipa-advertise-host=127.0.0.1', `ipa-advertise-port=${hostPort}`, 'ipa-lookup-timeout=300',
        `ipa-api-url=http://${HOST_IN_GUEST}:${conductorPort}`].join(' '),
      guestForwards: [
        { guestAddress: HOST_IN_GUEST, guestPort: conductorPort, hostPort: conductorPort },
        { guestAddress: HOST_IN_GUEST, guestPort: 80, hostPort: nginx.port },
        { guestAddress: HOST_IN_GUEST, guestPort: swiftPort, hostPort: swiftPort },
      ],
      disks: [{ path: machine.disks[0]!, bus: 'virtio' }, { path: wholeDiskTarget, bus: 'virtio' }, { path: partitionTarget, bus: 'virtio' }, { path: snapshotTarget, bus: 'virtio' }],
    });
    process.stdout.write(`QEMU pid ${vm.pid}, console ${consoleLog}\n`);
    bootCleanups.push(() => vm.stop());

    swift = await swiftStarted;
    await swift.createContainer('snapshots');
    const beat = await within('the first heartbeat', 180_000, until('the first heartbeat', () => conductor.heartbeats[0], 180_000), vm);
    timings.firstHeartbeat = since();
    expect(beat.callbackUrl).toBe(`https://127.0.0.1:${hostPort}`);
    client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log, timeoutMs: 60_000 });
    bootCleanups.push(() => client.close());
  }

  afterAll(async () => {
    if (vm) process.stdout.write(`${JSON.stringify({ e2e: 'deploy', seconds_from_qemu_start: timings })}\n`);
    await undo(bootCleanups);
  });

  /** write_image as Ironic sends it (ironic-conductor.md §4), polled to its end by the command's id. */
  async function writeImage(node: NodeInfo, imageInfo: Record<string, unknown>) {
    const { hardwareManagerVersion } = await within('get_deploy_steps', 60_000, client.getDeploySteps(node, []), vm);
    const step = { interface: 'deploy', step: 'write_image', args: { image_info: imageInfo, configdrive: null } };
    const started = await client.executeDeployStep(step, node, [], hardwareManagerVersion);
    expect(started.command_status).toBe('RUNNING');
    const done = await within('write_image', 300_000, client.waitForCommand('execute_deploy_step', { id: started.id, intervalMs: 1000, timeoutMs: 300_000 }), vm);
    expect(done.command_error).toBeNull();
    expect(done.command_status).toBe('SUCCEEDED');
    expect(done.command_result).toMatchObject({ deploy_step: step });
    return JSON.stringify(done.command_result);
  }

  /**
   * standby.sync returns once the guest's writes have reached QEMU, which
   * puts them in the disk file through the host's page cache: from then on
   * the host reads what the guest wrote, with QEMU still running.
   */
  async function syncGuest(): Promise<void> {
    await within('standby.sync', 60_000, client.sync(), vm);
  }

  async function fetchesOf(path: string): Promise<Array<[string, number, number]>> {
    return (await nginx.readAccessLog()).filter((entry) => entry.method === 'GET' && entry.path === path).map((entry) => [entry.path, entry.status, entry.bytes]);
  }

  it('writes a zstd-compressed whole-disk image served by nginx onto the hinted virtio disk /dev/vdb', async () => {
    const image = await createWholeDiskImage(join(www, 'disk.img'), IMAGE_MiB);
    wholeDiskImage = image;
    const served = await compressImageZstd(image, join(www, 'disk.img.zst'));
    // The node as Ironic sends it, with the root device hint choosing the second virtio disk.
    const node: NodeInfo = { uuid: NODE_UUID, instance_info: { root_device: { name: '/dev/vdb' } }, properties: {} };
    // image_info with the keys Ironic 21.4 sends for an http whole-disk image (ironic-conductor.md §4).
    const result = await writeImage(node, {
      id: 'disk.img.zst', urls: [`http://${HOST_IN_GUEST}/disk.img.zst`], disk_format: 'raw', container_format: 'bare',
      stream_raw_images: true, os_hash_algo: 'sha256', os_hash_value: served.sha256, node_uuid: node.uuid,
    });
    timings.wholeDiskWritten = since();
    expect(result).toContain('written to device /dev/vdb');
    expect((await client.getPartitionUuids())['root uuid']).toMatch(/^0x[0-9a-f]{8}$/);

    await syncGuest();
    // From the host: the image's bytes on vdb, its table valid for the larger disk, its file system readable.
    expect(await deployedImageDigest(wholeDiskTarget, image.size)).toBe(await deployedImageDigest(image.path, image.size));
    expect(execFileSync('sgdisk', ['--verify', wholeDiskTarget], { encoding: 'utf8' })).toMatch(/No problems found/);
    expect(await readDeployedMarker(wholeDiskTarget)).toEqual({ diskGuid: image.diskGuid, marker: image.marker });
    // The guest fetched the compressed file from nginx, all of it, once.
    expect(await fetchesOf('/disk.img.zst')).toEqual([['/disk.img.zst', 200, served.size]]);
  });

  it('captures a deployed virtio disk to Swift on the host (snapshot.capture, temp URLs); after the host wiped the disk file, write_image restores it byte for byte', async () => {
    // /dev/vdd, a 256 MiB disk (vdb's 4 GiB would cost minutes of TCG to read and hash twice), deployed first with case 1's image.
    const served = await compressImageZstd({ path: join(www, 'disk.img') }, join(www, 'snapshot-source.img.zst'));
    const node: NodeInfo = { uuid: NODE_UUID, instance_info: { root_device: { name: '/dev/vdd' } }, properties: {} };
    await writeImage(node, {
      id: 'snapshot-source.img.zst', urls: [`http://${HOST_IN_GUEST}/snapshot-source.img.zst`], disk_format: 'raw', container_format: 'bare',
      stream_raw_images: true, os_hash_algo: 'sha256', os_hash_value: served.sha256, node_uuid: node.uuid,
    });
    await syncGuest();

    // The guest reaches Swift at HOST_IN_GUEST on the same port; a temp URL signs the path only, so the host's URLs serve with the host swapped.
    const inGuest = (url: string) => url.replace('//127.0.0.1:', `//${HOST_IN_GUEST}:`);
    const store = createSwiftStore({
      proxyUrl: swift.url, account: swift.account, auth: { token: swift.authToken }, tempUrlKey: swift.tempUrlKey,
      container: 'snapshots', object: 'vdd', segmentSize: MiB, log,
    });
    const before = await fileDigest(snapshotTarget);
    const stampBefore = writeStamp(snapshotTarget);
    const target = await store.prepare(SNAPSHOT_DISK_BYTES);
    if (target.type !== 'swift') throw new Error(`a Swift store prepared a ${target.type} target`);
    const started = await client.captureSnapshot({ device: '/dev/vdd', target: { ...target, segment_urls: target.segment_urls.map(inGuest) } });
    const result = await within('snapshot.capture', 300_000, client.waitForSnapshot(started, { intervalMs: 1000, timeoutMs: 300_000 }), vm);
    timings.snapshotCaptured = since();
    const manifest = await store.complete(result);
    // Not one byte written by the capture (a QEMU write moves the file's mtime), and the manifest says what the host reads.
    expect(writeStamp(snapshotTarget)).toBe(stampBefore);
    expect(manifest).toMatchObject({ raw: { bytes: SNAPSHOT_DISK_BYTES, sha256: before }, source: { device: '/dev/vdd', size_bytes: SNAPSHOT_DISK_BYTES, partition_table: { type: 'gpt' } } });
    // 1 MiB segments: the few MiB stored take several, each its own temp URL.
    expect(manifest.segments).toEqual({ size: MiB, count: Math.ceil(manifest.image.bytes / MiB) });

    // Wiped by the host: the file's blocks gone, every byte zero, its size kept.
    execFileSync('fallocate', ['--punch-hole', '--offset', '0', '--length', String(SNAPSHOT_DISK_BYTES), snapshotTarget]);
    expect(remainingSignatures(snapshotTarget)).toEqual([]);

    const image = snapshotDeployImage(manifest, inGuest(await store.readUrl(600)));
    await writeImage(node, buildImageInfo(image, node.uuid));
    timings.snapshotRestored = since();
    await syncGuest();
    expect(await fileDigest(snapshotTarget)).toBe(before);
  });

  it('deploys a partition image in UEFI mode onto /dev/vdc and installs its own GRUB into the ESP as the removable-media loader EFI/BOOT/BOOTX64.EFI', async (context) => {
    context.skip(grubReason !== undefined && !process.env.CI, grubReason);
    if (grubReason) throw failInCi(grubReason);
    const loaded = readRamdiskModules();
    const espModulesMissing = ['vfat', 'nls_cp437', 'nls_ascii'].filter((name) => !loaded.includes(name));
    expect(espModulesMissing, `the ramdisk (${ramdiskManifest}) does not load ${espModulesMissing.join(', ')}, so the agent cannot mount the ESP: image-build/src/modules.ts's filesystems group must list them`).toEqual([]);

    // The root filesystem holds this host's grub-install and grub-mkconfig, their libraries and the x86_64-efi modules.
    const rootUuid = randomUUID();
    const imageFile = join(www, 'grub-root.img');
    buildGrubRootImage(imageFile, { platforms: ['x86_64-efi'], uuid: rootUuid, sizeMiB: 64 });
    const served = await compressImageZstd({ path: imageFile }, join(www, 'grub-root.img.zst'));
    // A UEFI node (Ironic 21.4's default boot mode), its hint naming the third virtio disk.
    const node: NodeInfo = { uuid: NODE_UUID, instance_info: { root_device: { name: '/dev/vdc' }, capabilities: { boot_mode: 'uefi' } }, properties: {} };
    // image_info for a partition image: the whole-disk keys and the partition ones (ironic-conductor.md §4); root_mb is root_gb in MiB.
    const result = await writeImage(node, {
      id: 'grub-root.img.zst', urls: [`http://${HOST_IN_GUEST}/grub-root.img.zst`], disk_format: 'raw', container_format: 'bare',
      stream_raw_images: true, os_hash_algo: 'sha256', os_hash_value: served.sha256, node_uuid: node.uuid,
      kernel: null, ramdisk: null, root_gb: 1, root_mb: 1024, swap_mb: 0, ephemeral_mb: 0, ephemeral_format: null, configdrive: null,
      preserve_ephemeral: false, image_type: 'partition', deploy_boot_mode: 'uefi', boot_option: 'local',
    });
    timings.partitionImageWritten = since();
    expect(result).toContain('written to device /dev/vdc');
    const uuids = await client.getPartitionUuids();
    expect(uuids['root uuid']).toBe(rootUuid);
    const espUuid = uuids['efi system partition uuid'];
    expect(espUuid).toMatch(/^[0-9A-F]{4}-[0-9A-F]{4}$/);
    expect(result).toContain(`efi_system_partition_uuid=${espUuid}`);

    // prepare_instance_boot's install_bootloader for a partition image (ironic-conductor.md §4).
    const installed = await within('image.install_bootloader', 300_000, client.installBootloader(
      { rootUuid, efiSystemPartUuid: espUuid as string, prepBootPartUuid: null, targetBootMode: 'uefi' },
      { intervalMs: 1000, timeoutMs: 300_000 },
    ), vm);
    timings.bootloaderInstalled = since();
    expect(installed.command_status).toBe('SUCCEEDED');
    expect(installed.command_result).toBeNull();

    await syncGuest();
    // From the host, without mounting: the ESP and the root the agent made, found by type and by filesystem UUID.
    const partitions = readPartitionTable(partitionTarget);
    const esp = partitions.find((partition) => partition.type === ESP_TYPE);
    const root = partitions.find((partition) => partition.fsUuid === rootUuid);
    expect(esp, `no EFI system partition on ${partitionTarget}: ${JSON.stringify(partitions)}`).toBeDefined();
    expect(root, `no partition with the root filesystem on ${partitionTarget}: ${JSON.stringify(partitions)}`).toBeDefined();
    expect(esp!.fsUuid).toBe(espUuid);
    expect(root!.size).toBe(1024 * MiB);
    // grub-install --removable: the loader at the path firmware boots without NVRAM entries, a PE image.
    expect(listFatFiles(partitionTarget, '/EFI', esp!.start)).toContainEqual(expect.stringMatching(/^::\/EFI\/BOOT\/BOOTX64\.EFI$/i));
    const loader = readFatFile(partitionTarget, '/EFI/BOOT/BOOTX64.EFI', esp!.start);
    expect(loader.subarray(0, 2).toString('latin1')).toBe('MZ');
    // The root is on the loader's own disk, so grub-install writes its partition into the prefix; the modules found there are the image's.
    expect(loader.includes(Buffer.from(`(,gpt${root!.number})/boot/grub`))).toBe(true);
    expect(readExt4File(partitionTarget, '/boot/grub/x86_64-efi/normal.mod', root!.start).length).toBeGreaterThan(1000);
    // grub-mkconfig in the chroot: a menu entry that searches the root by UUID and boots the image's kernel.
    const config = readExt4File(partitionTarget, '/boot/grub/grub.cfg', root!.start);
    expect(config).toContain(`search --no-floppy --fs-uuid --set=root ${rootUuid}`);
    // 10_linux writes root=UUID=... only when /dev/disk/by-uuid has the link (udev); the ramdisk has no udev, so it names the node.
    expect(config).toMatch(new RegExp(`linux\\s+/boot/${TEST_KERNEL} root=(UUID=${rootUuid}|/dev/vdc${root!.number})`));
    expect(await fetchesOf('/grub-root.img.zst')).toEqual([['/grub-root.img.zst', 200, served.size]]);
  });

  it('rescues the deployed guest: after rescue.finalize_rescue with a SHA-512 crypt hash the API stops, and "rescue" logs in on the serial console with that password (a wrong one refused), reads the deployed disk as root and powers off; no disk was written', async () => {
    // A deployed guest: what the first case wrote on vdb (it also ran alone when filtered).
    if (!wholeDiskImage) throw new Error('no deployed image on /dev/vdb: the whole-disk case did not run or failed');
    const disks = [machine.disks[0]!, wholeDiskTarget, partitionTarget];
    const stampsBefore = disks.map(writeStamp);
    const deployedBefore = await deployedImageDigest(wholeDiskTarget, wholeDiskImage.size);

    // The conductor's rescue action (Ironic's RESCUEWAIT): finalize_rescue with the password's SHA-512 crypt hash
    // (hashed: true, as Ironic sends it), SUCCEEDED, then the agent's API refuses connections (ipa-protocol.md 4.2).
    const password = randomBytes(9).toString('base64url');
    let cursor = vm.serialOutput().length;
    const rescue = await within('the rescue', 120_000, driveRescue({ client, password, requireHashed: true, log, stopTimeoutMs: 60_000 }), vm);
    expect(rescue.hashed).toBe(true);
    const rescueStart = cursor;
    const serial = async (pattern: RegExp, what: string, timeoutMs = 60_000, from = cursor) => {
      const match = await within(what, timeoutMs, vm.waitForSerial(pattern, timeoutMs, from), vm);
      cursor = Math.max(cursor, match.end);
      return match;
    };
    // The agent process is gone (so are its heartbeats), with status 0, and /init did not start another.
    expect((await serial(/ingot-init: the agent exited with status \d+ after rescue\.finalize_rescue/, 'the agent to exit')).text).toContain('status 0 ');
    await serial(/ingot-init: rescued: log in as "rescue" on the console/, '/init to start the rescue logins');
    timings.rescued = since();
    const heartbeatsAfterRescue = heartbeats.length;
    // login switches echo off only after it prints "Password: ": typing at once would show the password on the console.
    const typePassword = async (text: string) => { await new Promise((resolve) => setTimeout(resolve, 1000)); await vm.writeSerial(`${text}\n`); };

    // getty writes to the console itself while /init's lines pass through tee: its first prompt may come before the
    // "rescued" line. No getty ran before the rescue, so any prompt since then is the first one.
    await serial(/ingot login: /, 'the login prompt', 60_000, rescueStart);
    await vm.writeSerial('rescue\n');
    await serial(/Password: /, 'the password prompt');
    await typePassword(`wrong-${password}`);
    await serial(/Login incorrect/, 'the wrong password to be refused');
    await serial(/ingot login: /, 'the login prompt again');
    await vm.writeSerial('rescue\n');
    await serial(/Password: /, 'the password prompt again');
    await typePassword(password);
    // ash's prompt for uid 0 in its home directory (`pwd` below proves which home).
    await serial(/~ # /, 'the rescue shell prompt');
    timings.loggedIn = since();

    // Root's rights (what repairing needs): the deployed disk's MBR signature, read from the block device.
    await vm.writeSerial('id -u; id -un; echo "user=$LOGNAME"; pwd; cat /etc/hostname; dd if=/dev/vdb bs=512 count=1 2>/dev/null | od -An -tx1 -j510; echo RESCUE-$((6*7))\n');
    const start = cursor;
    await serial(/RESCUE-42\n/, 'the commands\' output');
    const output = vm.serialOutput().slice(start, cursor);
    expect(output).toMatch(/^0$/m);
    expect(output).toMatch(/^rescue$/m);
    expect(output).toMatch(/^user=rescue$/m);
    expect(output).toMatch(/^\/home\/rescue$/m);
    expect(output).toMatch(/^ingot$/m);
    expect(output).toMatch(/^ *55 aa$/m);

    // poweroff -f, the tool standby.power_off runs: QEMU exits (-no-reboot) with status 0.
    await vm.writeSerial('poweroff -f\n');
    const exited = await within('the guest to power off', 120_000, vm.exited);
    timings.poweredOff = since();
    expect(exited.code).toBe(0);
    // The heartbeats stopped with the API.
    expect(heartbeats.length).toBe(heartbeatsAfterRescue);
    // Nothing was written to any disk since the deploys' sync; the deployed image and the untouched disk are as they were.
    expect(disks.map(writeStamp)).toEqual(stampsBefore);
    expect(await deployedImageDigest(wholeDiskTarget, wholeDiskImage.size)).toBe(deployedBefore);
    expect(await readDeployedMarker(wholeDiskTarget)).toEqual({ diskGuid: wholeDiskImage.diskGuid, marker: wholeDiskImage.marker });
    expect(await fileDigest(machine.disks[0]!)).toBe(untouchedBefore);
  });
});
