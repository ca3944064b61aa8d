/**
 * Software RAID built by the Ingot ramdisk inside QEMU (issue 12), checked
 * from the host on the disk files with this host's mdadm (its kernel has no
 * md driver: mdadm --examine reads superblocks from a file or a read-only
 * loop device without one). Four virtio disks of different sizes, with
 * serials, are shared by two boots (a TCG boot costs ~20-30 s of CI):
 *
 * 1. The conductor library drives the agent as Ironic drives a deploy
 *    (ironic-conductor.md §6(b)): get_deploy_steps lists the raid interface's
 *    apply_configuration; apply_configuration builds a RAID 1 root volume on
 *    vda+vdb and a RAID 1+0 data volume on vdc+vdd; write_image, with no root
 *    device hint, writes a whole-disk image (served by Debian's nginx through
 *    a guestfwd relay) onto the root volume /dev/md0; standby.sync and
 *    standby.power_off end the boot; meanwhile apply_configuration's
 *    command_progress follows each array's resync. The host then finds, on each member
 *    partition, a superblock of the asked level, device count, name (homehost
 *    `any`) and the array's UUID, and the image at md0's data offset on BOTH
 *    mirror halves; the disk areas nobody named keep the markers written
 *    before the boot.
 * 2. Debian's real Ironic 21.4 drives the same ramdisk on the same disks
 *    (the node's raid_interface is `agent`): target_raid_config (IPA's kind:
 *    no physical_disks, every volume on every disk) set through
 *    `PUT /v1/nodes/<uuid>/states/raid`, then manual cleaning with
 *    raid.delete_configuration (the host sees no superblock anywhere, not even
 *    at the old members' offsets, and no partition table) and, after Ironic
 *    wiped the token and the agent looked up again, manual cleaning with
 *    raid.create_configuration (Ironic stores the agent's result as the node's
 *    raid_config; no root_device_hint, so properties.root_device stays unset;
 *    the host sees the new superblocks). Ironic never powers the guest off (fake
 *    power) and cannot send standby.sync after cleaning: the host reads what
 *    the guest's steps flushed.
 *
 * Timings (seconds from QEMU's start) are printed as one JSON line per boot.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, truncateSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { AgentClient } from '@ingot/conductor-client';
import type { CommandResult, NodeInfo, StepDescription } from '@ingot/protocol';
import type { IronicNode } from '../integration/ironic/ironic-api.ts';
import { findMissingForIronicRig } from '../integration/ironic/ironic-rig.ts';
import { readAt } from '../support/disk-file-reader.ts';
import { examineMd, examineMdAt, examinePartitions, type ExaminedPartition, type MdSuperblock } from '../support/md-superblocks.ts';
import { checkNginxInstalled, startImageServer } from '../support/nginx-image-server.ts';
import { startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { randomMac, remainingSignatures } from '../support/simulated-machine.ts';
import { compressImageZstd, createWholeDiskImage, deployedImageDigest, type WholeDiskImage } from '../support/whole-disk-image.ts';
import { e2eUnavailable, initrd, kernel, within } from './e2e-support.ts';
import { startIronicForGuest, type IronicForGuest } from './ironic-for-guest.ts';
import { freePort, startVm, type Vm, type VmOptions } from './qemu.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const rootReason = process.getuid?.() === 0 ? undefined : 'attaching member partitions read-only with losetup needs root';
const bootReason = e2eUnavailable(['sfdisk', 'sgdisk', 'mkfs.ext4', 'blkid', 'mdadm', 'losetup', 'openssl']) ?? checkNginxInstalled() ?? rootReason;
const deployBoot = prerequisite('the QEMU software RAID deploy test', bootReason);
const ironicBoot = prerequisite('the QEMU software RAID cleaning by Debian\'s Ironic', bootReason ?? await findMissingForIronicRig());

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** Where the guest sees the host: the conductor, Ironic and nginx are relayed from this address. */
const HOST_IN_GUEST = '10.0.2.100';
const IMAGE_MiB = 32;

/**
 * The guest names virtio disks vda, vdb, ... in the order they are attached.
 * Each has a serial (QEMU's serial=, read by the agent from sysfs: the
 * ramdisk has no udev for lsblk to ask); the hints below use both.
 */
const DISKS = [
  { name: '/dev/vda', serial: 'INGOTRAID0A', bytes: 3 * GiB },
  { name: '/dev/vdb', serial: 'INGOTRAID0B', bytes: 3.5 * GiB },
  { name: '/dev/vdc', serial: 'INGOTRAID0C', bytes: 2 * GiB },
  { name: '/dev/vdd', serial: 'INGOTRAID0D', bytes: 2.5 * GiB },
] as const;
const [VDA, VDB, VDC, VDD] = DISKS;

/** Boot 1's configuration: Ironic's shape, physical_disks as root device hints. */
const DEPLOY_RAID_CONFIG = {
  logical_disks: [
    { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true, volume_name: 'root', physical_disks: [{ name: VDA.name }, { name: VDB.name }] },
    { size_gb: 'MAX', raid_level: '1+0', controller: 'software', volume_name: 'data', physical_disks: [{ serial: VDC.serial }, { serial: VDD.serial }] },
  ],
};

/**
 * Boot 2's, which Ironic stores and create_configuration builds: IPA's own
 * kind of configuration (no physical_disks: every volume spans every disk,
 * each on a partition of its own; the first is RAID 1), so what Ironic users
 * already send is what Ironic checks here; another level for the data volume.
 */
const CLEAN_RAID_CONFIG = {
  logical_disks: [
    { size_gb: 1, raid_level: '1', controller: 'software', is_root_volume: true, volume_name: 'os' },
    { size_gb: 'MAX', raid_level: '5', controller: 'software', volume_name: 'bulk' },
  ],
};

/**
 * Random bytes written before boot 1 where no volume of DEPLOY_RAID_CONFIG
 * can reach: past the root volume's 1 GiB member (and its partition-table
 * room) on vda and vdb, well before the disks' ends.
 */
const MARKERS = [{ disk: 0, offset: 2 * GiB }, { disk: 1, offset: 3 * GiB }].map((marker) => ({ ...marker, bytes: randomBytes(MiB) }));

/** What both boots share: the work directory and the four disk files. */
let workDir = '';
let diskFiles: string[] = [];
let keep = Boolean(process.env.INGOT_KEEP_TEST_FILES);

async function disksReady(): Promise<string[]> {
  if (diskFiles.length > 0) return diskFiles;
  workDir = await mkdtemp(join(tmpdir(), 'ingot-raid-e2e-'));
  diskFiles = DISKS.map((disk, index) => {
    const file = join(workDir, `vd${'abcd'[index]}.img`);
    closeSync(openSync(file, 'w'));
    truncateSync(file, disk.bytes);
    return file;
  });
  for (const marker of MARKERS) writeAt(diskFiles[marker.disk]!, marker.offset, marker.bytes);
  return diskFiles;
}

function writeAt(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try { writeSync(fd, bytes, 0, bytes.length, offset); } finally { closeSync(fd); }
}

function vmDisks(): VmOptions['disks'] {
  return diskFiles.map((path, index) => ({ path, bus: 'virtio', serial: DISKS[index]!.serial }));
}

async function undo(list: Cleanups): Promise<void> {
  for (const cleanup of list.splice(0).reverse()) {
    try { await cleanup(); } catch (error) { process.stderr.write(`cleanup failed: ${String(error)}\n`); }
  }
}

afterAll(async () => {
  if (!workDir) return;
  if (keep) process.stdout.write(`kept for inspection: ${workDir} (console logs, disk files, Ironic's state)\n`);
  else await rm(workDir, { recursive: true, force: true });
});

/** Every member partition the host finds on the disk files, by array name (`any:root`), with its disk's index. */
interface FoundMember { disk: number; file: string; examined: ExaminedPartition; superblock: MdSuperblock }
async function findMembers(): Promise<{ byName: Map<string, FoundMember[]>; all: FoundMember[] }> {
  const all: FoundMember[] = [];
  for (const [disk, file] of diskFiles.entries()) {
    const examined = await examinePartitions(file);
    for (const entry of examined) if (entry.superblock) all.push({ disk, file, examined: entry, superblock: entry.superblock });
  }
  const byName = new Map<string, FoundMember[]>();
  for (const member of all) byName.set(member.superblock.name, [...(byName.get(member.superblock.name) ?? []), member]);
  return { byName, all };
}

/** What the report shows of the members: disk, partition, level, devices, name, uuid, data offset, state. */
function describeMembers(all: FoundMember[]): string {
  return all.map((m) => `${DISKS[m.disk]!.name} p${m.examined.partition.number} @${m.examined.partition.start / MiB} MiB +${m.examined.partition.size / MiB} MiB: ${m.superblock.level} x${m.superblock.devices} ${m.superblock.name} ${m.superblock.uuid} metadata ${m.superblock.metadata} data offset ${m.superblock.dataOffset / 512} sectors (${m.superblock.state})`).join('\n');
}

/** The members of one array: on exactly `disks`, with the level, device count, name and one shared UUID. */
function expectArray(found: Map<string, FoundMember[]>, name: string, level: string, disks: number[]): FoundMember[] {
  const members = found.get(`any:${name}`) ?? [];
  expect(members.map((m) => m.disk).sort(), `members of any:${name}`).toEqual([...disks].sort());
  for (const member of members) {
    expect({ disk: DISKS[member.disk]!.name, level: member.superblock.level, devices: member.superblock.devices, metadata: member.superblock.metadata })
      .toEqual({ disk: DISKS[member.disk]!.name, level, devices: disks.length, metadata: '1.2' });
  }
  expect(new Set(members.map((m) => m.superblock.uuid)).size, `one UUID shared by the members of any:${name}`).toBe(1);
  return members;
}

deployBoot.describe('software RAID by the Ingot ramdisk in QEMU (TCG), boot 1: apply_configuration and a whole-disk image onto /dev/md0, driven by the conductor library', () => {
  let vm: Vm;
  let client: AgentClient;
  let www = '';
  let image: WholeDiskImage | undefined;
  let applied = false;
  let applyResult: { logical_disks?: Array<Record<string, unknown>> } | undefined;
  let written = false;
  const nodeUuid = randomUUID();
  const bootCleanups: Cleanups = [];
  const timings: Record<string, number> = {};
  /** command_progress as the agent reported it, each change once, with the seconds since QEMU's start. */
  const progress: Array<{ at: number; command: string; progress: unknown }> = [];
  const since = () => Number(((Date.now() - vm.startedAt) / 1000).toFixed(1));
  /** The node as Ironic sends it during a deploy with a RAID config: target_raid_config set, no root device hint. */
  const node = (): NodeInfo => ({ uuid: nodeUuid, instance_info: {}, properties: {}, driver_internal_info: {}, target_raid_config: DEPLOY_RAID_CONFIG });

  beforeAll(async () => {
    try {
      await boot();
    } catch (error) {
      keep = true; // keep the console log of a boot that failed
      throw error;
    }
  }, 240_000);

  async function boot(): Promise<void> {
    await disksReady();
    const machineDir = join(workDir, 'boot1');
    www = join(machineDir, 'www');
    await mkdir(www, { recursive: true });
    const nginx = await startImageServer({ root: www, stateDir: join(machineDir, 'nginx') });
    bootCleanups.push(() => nginx.stop());

    const mac = randomMac();
    const conductor = await startTestConductor({ mac }, bootCleanups, log, { nodeUuid });
    const conductorPort = Number(new URL(conductor.url).port);
    const hostPort = await freePort();
    vm = await startVm({
      kernel, initrd, mac, consoleLog: join(machineDir, 'console.log'), hostPort, exposePort: 9999,
      // The agent is reached through hostfwd on the host's loopback: advertise that, so the TLS certificate's SAN is 127.0.0.1.
      append: ['quiet', 'panic=-1', 'ipa-advertise-host=127.0.0.1', `ipa-advertise-port=${hostPort}`, 'ipa-lookup-timeout=300',
        `ipa-api-url=http://${HOST_IN_GUEST}:${conductorPort}`].join(' '),
      guestForwards: [
        { guestAddress: HOST_IN_GUEST, guestPort: conductorPort, hostPort: conductorPort },
        { guestAddress: HOST_IN_GUEST, guestPort: 80, hostPort: nginx.port },
      ],
      disks: vmDisks(),
    });
    process.stdout.write(`boot 1: QEMU pid ${vm.pid}, console ${vm.consoleLog}\n`);
    bootCleanups.push(() => vm.stop());

    const beat = await within('the first heartbeat', 180_000, until('the first heartbeat', () => conductor.heartbeats[0], 180_000), vm);
    timings.firstHeartbeat = since();
    client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log, timeoutMs: 60_000 });
    bootCleanups.push(() => client.close());
  }

  afterAll(async () => {
    if (vm) {
      process.stdout.write(`${JSON.stringify({ e2e: 'raid boot 1 (conductor library)', seconds_from_qemu_start: timings })}\n`);
      process.stdout.write(`command_progress seen in boot 1 (${progress.length} changes):\n${progress.map((p) => `  ${p.at} s ${p.command}: ${JSON.stringify(p.progress)}`).join('\n') || '  (none)'}\n`);
    }
    await undo(bootCleanups);
  });

  function whenFailed(): void {
    onTestFailed(() => { keep = true; });
  }

  /** Records every change of any command's command_progress, polling GET /v1/commands/ until stopped. */
  function sampleProgress(intervalMs = 2000): () => Promise<void> {
    const last = new Map<string, string>();
    let stopped = false;
    const loop = (async () => {
      while (!stopped) {
        try {
          for (const command of await client.getCommandsStatus({ retry: false })) record(command, last);
        } catch { /* a poll lost to a busy guest; the next one counts */ }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
    return async () => { stopped = true; await loop; };
  }

  function record(command: CommandResult, last: Map<string, string>): void {
    const text = JSON.stringify(command.command_progress ?? null);
    if (command.command_progress && last.get(command.id) !== text) progress.push({ at: since(), command: `${command.command_name} ${command.command_status}`, progress: command.command_progress });
    last.set(command.id, text);
  }

  it('lists the four virtio disks by name, size and serial in the inventory (the hints choose among them)', async () => {
    whenFailed();
    const info = await within('poll.get_hardware_info', 60_000, client.runCommand('poll.get_hardware_info', {}, { wait: true }), vm);
    const disks = ((info.command_result as { disks?: Array<{ name: string; size: number; serial: string | null }> }).disks ?? [])
      .filter((disk) => /^\/dev\/vd/.test(disk.name)).map((disk) => ({ name: disk.name, size: disk.size, serial: disk.serial }));
    process.stdout.write(`boot 1 inventory: ${JSON.stringify(disks)}\n`);
    expect(disks).toEqual(DISKS.map((disk) => ({ name: disk.name, size: disk.bytes, serial: disk.serial })));
  });

  it('advertises the raid interface\'s deploy step apply_configuration (priority 0, raid_config required)', async () => {
    whenFailed();
    const { steps } = await within('get_deploy_steps', 60_000, client.getDeploySteps(node(), []), vm);
    const raidSteps = Object.values(steps).flat().filter((step: StepDescription) => step.interface === 'raid');
    process.stdout.write(`boot 1 raid deploy steps: ${JSON.stringify(raidSteps)}\n`);
    const apply = raidSteps.find((step) => step.step === 'apply_configuration');
    expect(apply, `apply_configuration among the deploy steps: ${JSON.stringify(steps)}`).toBeDefined();
    expect(apply!.priority).toBe(0);
    expect(apply!.argsinfo?.raid_config?.required).toBe(true);
  });

  it('applies a RAID 1 root volume on vda+vdb and a RAID 1+0 data volume on vdc+vdd, returning the logical disks as Ironic\'s deploy_result', async () => {
    whenFailed();
    const { hardwareManagerVersion } = await within('get_deploy_steps', 60_000, client.getDeploySteps(node(), []), vm);
    const step = { interface: 'raid', step: 'apply_configuration', priority: 0, args: { raid_config: DEPLOY_RAID_CONFIG, delete_existing: true } };
    const last = new Map<string, string>();
    const started = await within('execute_deploy_step apply_configuration', 60_000, client.executeDeployStep(step, node(), [], hardwareManagerVersion), vm);
    timings.applyStarted = since();
    const done = started.command_status === 'RUNNING'
      ? await within('apply_configuration', 300_000, client.waitForCommand('execute_deploy_step', { id: started.id, intervalMs: 1000, timeoutMs: 300_000, onProgress: (running) => { if (running) record(running, last); } }), vm)
      : started;
    timings.applyDone = since();
    process.stdout.write(`boot 1 apply_configuration: ${JSON.stringify({ status: done.command_status, error: done.command_error, result: done.command_result })}\n`);
    expect(done.command_error).toBeNull();
    expect(done.command_status).toBe('SUCCEEDED');
    const result = done.command_result as { deploy_result?: { logical_disks?: Array<Record<string, unknown>> }; deploy_step?: unknown };
    applyResult = result.deploy_result;
    applied = true;
    expect(result.deploy_step).toMatchObject({ interface: 'raid', step: 'apply_configuration' });
    const logicalDisks = result.deploy_result?.logical_disks ?? [];
    expect(logicalDisks.map((ld) => ({ volume_name: ld.volume_name, raid_level: ld.raid_level, size_gb: ld.size_gb, controller: ld.controller })))
      .toEqual(DEPLOY_RAID_CONFIG.logical_disks.map((ld) => ({ volume_name: ld.volume_name, raid_level: ld.raid_level, size_gb: ld.size_gb, controller: ld.controller })));
  });

  it('returns the raid_config exactly as given, as IPA does: no root_device_hint, whose /dev/md<N> the kernel may number differently at the next assembly', () => {
    whenFailed();
    if (!applyResult) throw new Error('apply_configuration did not succeed (see the test before)');
    expect(applyResult).toEqual(DEPLOY_RAID_CONFIG);
  });

  it('writes a whole-disk image without root device hints onto the root volume /dev/md0', async () => {
    whenFailed();
    if (!applied) throw new Error('no RAID to write onto: apply_configuration did not succeed (see the test before)');
    const stopSampling = sampleProgress();
    try {
      image = await createWholeDiskImage(join(www, 'disk.img'), IMAGE_MiB);
      const served = await compressImageZstd(image, join(www, 'disk.img.zst'));
      const { hardwareManagerVersion } = await within('get_deploy_steps', 60_000, client.getDeploySteps(node(), []), vm);
      const step = { interface: 'deploy', step: 'write_image', args: { image_info: {
        id: 'disk.img.zst', urls: [`http://${HOST_IN_GUEST}/disk.img.zst`], disk_format: 'raw', container_format: 'bare',
        stream_raw_images: true, os_hash_algo: 'sha256', os_hash_value: served.sha256, node_uuid: nodeUuid,
      }, configdrive: null } };
      const started = await client.executeDeployStep(step, node(), [], hardwareManagerVersion);
      const done = await within('write_image', 300_000, client.waitForCommand('execute_deploy_step', { id: started.id, intervalMs: 1000, timeoutMs: 300_000 }), vm);
      timings.imageWritten = since();
      expect(done.command_error).toBeNull();
      expect(done.command_status).toBe('SUCCEEDED');
      expect(JSON.stringify(done.command_result)).toContain('written to device /dev/md0');
      const uuids = await client.getPartitionUuids();
      process.stdout.write(`boot 1 get_partition_uuids after the RAID deploy: ${JSON.stringify(uuids)}\n`);
      await within('standby.sync', 60_000, client.sync(), vm);
      timings.synced = since();
      written = true;
    } finally {
      await stopSampling();
    }
  });

  it('reports each array\'s resync in apply_configuration\'s command_progress while deployment goes on', () => {
    whenFailed();
    if (!applied) throw new Error('apply_configuration did not succeed (see the tests before)');
    // Under TCG the resync outlasts write_image; on a faster machine it may be over by the first poll, so "in sync" counts too.
    const resync = progress.filter((seen) => seen.command.startsWith('execute_deploy_step') && /^software RAID (resync|in sync)$/.test(String((seen.progress as { stage?: unknown }).stage)));
    expect(resync.length, 'command_progress reports of the arrays\' resync').toBeGreaterThan(0);
    for (const seen of resync) {
      const items = ((seen.progress as { items?: Array<{ name?: unknown }> }).items ?? []).map((item) => item.name);
      expect(items).toEqual(['/dev/md0 (root)', '/dev/md1 (data)']);
    }
  });

  it('powers off with standby.power_off: QEMU exits with status 0', async () => {
    whenFailed();
    await within('standby.power_off', 60_000, client.powerOff(), vm);
    const exited = await within('the guest to power off', 120_000, vm.exited);
    timings.poweredOff = since();
    expect(exited.code).toBe(0);
  });

  it('left, on each member partition, a superblock of the asked level, device count and name (homehost any), one UUID per array, and nothing elsewhere', async () => {
    whenFailed();
    if (!applied) throw new Error('apply_configuration did not succeed: nothing to examine');
    const { byName, all } = await findMembers();
    process.stdout.write(`boot 1 members seen from the host:\n${describeMembers(all)}\n`);
    expectArray(byName, 'root', 'raid1', [0, 1]);
    expectArray(byName, 'data', 'raid10', [2, 3]);
    expect(all.length, 'superblocks on the four disks').toBe(4);
    // The members are partitions: no superblock where a whole-disk member's would be.
    for (const file of diskFiles) expect(await examineMd(file), `a whole-disk superblock on ${file}`).toBeNull();
  });

  it('put the image\'s bytes at the start of md0\'s data area on BOTH mirror halves (vda and vdb), and left the areas nobody named as they were', async () => {
    whenFailed();
    if (!written || !image) throw new Error('write_image did not succeed: no image to look for');
    const { byName } = await findMembers();
    const root = expectArray(byName, 'root', 'raid1', [0, 1]);
    const expected = await deployedImageDigest(image.path, image.size);
    for (const member of root) {
      const at = member.examined.partition.start + member.superblock.dataOffset;
      expect({ disk: DISKS[member.disk]!.name, digest: await deployedImageDigest(member.file, image.size, at) }).toEqual({ disk: DISKS[member.disk]!.name, digest: expected });
    }
    for (const marker of MARKERS) {
      expect(readAt(diskFiles[marker.disk]!, marker.offset, marker.bytes.length).equals(marker.bytes), `the marker at ${marker.offset / GiB} GiB of ${DISKS[marker.disk]!.name}`).toBe(true);
    }
  });
});

ironicBoot.describe('software RAID by the Ingot ramdisk in QEMU (TCG), boot 2: Debian\'s Ironic 21.4 runs raid.delete_configuration and raid.create_configuration in manual cleaning', () => {
  let vm: Vm;
  let rig: IronicForGuest;
  let before: FoundMember[] = [];
  let deleted = false;
  let created: IronicNode | undefined;
  const bootCleanups: Cleanups = [];
  const timings: Record<string, number> = {};
  const since = () => Number(((Date.now() - vm.startedAt) / 1000).toFixed(1));
  /** [api]ramdisk_heartbeat_timeout: the agent heartbeats every 3-6 s and notices a wiped token that soon. */
  const HEARTBEAT_TIMEOUT_S = 10;
  const CLEANING_TIMEOUT_MS = 300_000;

  beforeAll(async () => {
    try {
      await boot();
    } catch (error) {
      keep = true;
      await rig?.printLogs();
      throw error;
    }
  }, 240_000);

  async function boot(): Promise<void> {
    await disksReady();
    // What boot 1 left (recorded before Ironic's cleaning touches anything): its arrays' members.
    before = (await findMembers()).all;
    process.stdout.write(`boot 2: the members boot 1 left, seen from the host:\n${describeMembers(before) || '(none)'}\n`);
    const machineDir = join(workDir, 'boot2');
    await mkdir(machineDir, { recursive: true });
    const mac = randomMac();
    rig = await startIronicForGuest({ workDir: machineDir, mac, name: `raid-e2e-${mac.replaceAll(':', '')}`, bootMode: 'bios', heartbeatTimeout: HEARTBEAT_TIMEOUT_S, raidInterface: 'agent' });
    bootCleanups.push(() => rig.stop());
    const hostPort = await freePort();
    vm = await startVm({
      kernel, initrd, mac, consoleLog: join(machineDir, 'console.log'), hostPort, exposePort: 9999,
      // Ironic calls the agent back at its advertised 127.0.0.1:hostPort (hostfwd); the lookups between the cleanings are answered 404 for a manageable node.
      append: ['quiet', 'panic=-1', 'ipa-advertise-host=127.0.0.1', `ipa-advertise-port=${hostPort}`, 'ipa-lookup-timeout=600',
        `ipa-api-url=http://${HOST_IN_GUEST}:${rig.ironic.port}`].join(' '),
      guestForwards: [{ guestAddress: HOST_IN_GUEST, guestPort: rig.ironic.port, hostPort: rig.ironic.port }],
      disks: vmDisks(),
    });
    process.stdout.write(`boot 2: QEMU pid ${vm.pid}, console ${vm.consoleLog}; Ironic ${rig.ironic.url}, log ${rig.ironic.logPath}\n`);
    bootCleanups.push(() => vm.stop());
  }

  afterAll(async () => {
    if (vm) process.stdout.write(`${JSON.stringify({ e2e: 'raid boot 2 (Debian Ironic 21.4)', seconds_from_qemu_start: timings })}\n`);
    await undo(bootCleanups);
  });

  function whenFailed(): void {
    onTestFailed(async () => { keep = true; await rig?.printLogs(); });
  }

  /** Manual cleaning with `steps`, waited on to `manageable`; fails early when QEMU exits or the node fails. */
  async function cleanManually(steps: Array<Record<string, unknown>>, label: string): Promise<IronicNode> {
    const startedAt = since();
    await rig.api.setProvisionState(rig.node.uuid, 'clean', { clean_steps: steps });
    // Ironic waits in 'clean wait' for the agent's first heartbeat (after a lookup), then goes on 'cleaning' with its steps.
    let waited = false;
    const node = await within(`manual cleaning (${label}) to end in manageable`, CLEANING_TIMEOUT_MS, rig.api.waitForProvisionState(rig.node.uuid, 'manageable', {
      timeoutMs: CLEANING_TIMEOUT_MS, intervalMs: 500, failOn: ['clean failed', 'error'],
      onPoll: (polled) => {
        if (polled.provision_state === 'clean wait') waited = true;
        else if (waited && polled.provision_state === 'cleaning' && timings[`${label}AgentHeartbeat`] === undefined) timings[`${label}AgentHeartbeat`] = since();
      },
    }), vm);
    timings[`${label}Started`] = startedAt;
    timings[`${label}Done`] = since();
    timings[`${label}Seconds`] = Number((timings[`${label}Done`]! - startedAt).toFixed(1));
    return node;
  }

  it('stores a software target_raid_config set through PUT /v1/nodes/<uuid>/states/raid', async () => {
    whenFailed();
    await rig.api.setTargetRaidConfig(rig.node.uuid, CLEAN_RAID_CONFIG);
    const node = await rig.api.getNode(rig.node.uuid);
    expect(node.raid_interface).toBe('agent');
    expect(node.target_raid_config).toEqual(CLEAN_RAID_CONFIG);
  });

  it('deletes boot 1\'s arrays in manual cleaning [raid.delete_configuration]: the node ends manageable with raid_config {}, and no superblock or partition table remains on any disk', async () => {
    whenFailed();
    expect(before.length, `boot 1's members on the disk files before cleaning:\n${describeMembers(before)}`).toBe(4);
    const node = await cleanManually([{ interface: 'raid', step: 'delete_configuration' }], 'delete');
    expect(node.last_error).toBeNull();
    expect(node.raid_config).toEqual({});
    expect(node.properties.root_device).toBeUndefined();
    const log = await readFile(rig.ironic.logPath, 'utf8');
    expect(log).toContain(`Agent on node ${rig.node.uuid} returned clean command success`);

    // The host's view of the disk files, with the guest still running.
    const { all } = await findMembers();
    expect(describeMembers(all), 'superblocks in the partitions the host finds').toBe('');
    for (const [index, file] of diskFiles.entries()) {
      expect({ disk: DISKS[index]!.name, wholeDisk: await examineMd(file), signatures: remainingSignatures(file) }).toEqual({ disk: DISKS[index]!.name, wholeDisk: null, signatures: [] });
    }
    for (const member of before) {
      const { start, size, number } = member.examined.partition;
      expect({ where: `${DISKS[member.disk]!.name} old p${number}`, superblock: await examineMdAt(member.file, start, size) }).toEqual({ where: `${DISKS[member.disk]!.name} old p${number}`, superblock: null });
    }
    deleted = true;
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('builds the target RAID in a second manual cleaning [raid.create_configuration], after Ironic wiped the token and the agent looked up again: the node ends manageable with the logical disks as raid_config, the root volume\'s size and level in its properties', async () => {
    whenFailed();
    if (!deleted) throw new Error('delete_configuration did not succeed (see the test before)');
    const node = await cleanManually([{ interface: 'raid', step: 'create_configuration' }], 'create');
    created = node;
    expect(node.last_error).toBeNull();
    const raidConfig = node.raid_config as { logical_disks?: Array<Record<string, unknown>>; last_updated?: string };
    process.stdout.write(`boot 2 node raid_config after create_configuration: ${JSON.stringify(raidConfig)}; properties: ${JSON.stringify(node.properties)}\n`);
    expect(raidConfig.last_updated).toBeTypeOf('string');
    expect((raidConfig.logical_disks ?? []).map((ld) => ({ volume_name: ld.volume_name, raid_level: ld.raid_level, size_gb: ld.size_gb })))
      .toEqual(CLEAN_RAID_CONFIG.logical_disks.map((ld) => ({ volume_name: ld.volume_name, raid_level: ld.raid_level, size_gb: ld.size_gb })));
    // update_raid_info: the root volume's size and level become the node's.
    expect(node.properties.local_gb).toBe(1);
    expect(String(node.properties.capabilities)).toContain('raid_level:1');
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('leaves properties.root_device unset: the agent returns no root_device_hint (an md number may change across boots), the root volume is found by its name', () => {
    whenFailed();
    if (!created) throw new Error('create_configuration did not succeed (see the test before)');
    const logicalDisks = (created.raid_config as { logical_disks?: Array<Record<string, unknown>> }).logical_disks ?? [];
    expect(logicalDisks.map((ld) => ld.root_device_hint)).toEqual([undefined, undefined]);
    expect(created.properties.root_device).toBeUndefined();
  });

  it('left the new superblocks on the disk files, seen from the host with the guest still running: "os" RAID 1 and "bulk" RAID 5 on all four disks, none of boot 1\'s', async () => {
    whenFailed();
    if (!created) throw new Error('create_configuration did not succeed (see the test before)');
    const { byName, all } = await findMembers();
    process.stdout.write(`boot 2 members seen from the host after create_configuration (guest still running):\n${describeMembers(all)}\n`);
    const os = expectArray(byName, 'os', 'raid1', [0, 1, 2, 3]);
    const bulk = expectArray(byName, 'bulk', 'raid5', [0, 1, 2, 3]);
    expect(all.length, 'superblocks on the four disks').toBe(8);
    const oldUuids = new Set(before.map((m) => m.superblock.uuid));
    expect([...os, ...bulk].filter((m) => oldUuids.has(m.superblock.uuid)), 'members of boot 1\'s arrays').toEqual([]);
  });
});
