import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, open } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Test-side helpers that build disks for the erase tests. They call the tools
 * directly (not through the agent's System), so a bug in the code under test
 * cannot also hide in the fixtures it is checked against.
 */
const execFileAsync = promisify(execFile);

export interface Shell {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function sh(file: string, args: readonly string[], options: { allowFailure?: boolean } = {}): Promise<Shell> {
  try {
    const { stdout, stderr } = await execFileAsync(file, [...args], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr, exitCode: 0 };
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string };
    if (!options.allowFailure || typeof failure.code !== 'number') throw error;
    return { stdout: failure.stdout ?? '', stderr: failure.stderr ?? '', exitCode: failure.code };
  }
}

export async function hasTools(...names: string[]): Promise<string | null> {
  for (const name of names) {
    const found = await sh('sh', ['-c', `command -v ${name}`], { allowFailure: true });
    if (found.exitCode !== 0) return `${name} is not installed`;
  }
  return null;
}

/** Why loop-device tests cannot run here, or null when they can (root, losetup, a free loop device). */
export async function loopUnavailableReason(): Promise<string | null> {
  if (process.platform !== 'linux') return 'loop devices need Linux';
  if (process.getuid?.() !== 0) return 'loop devices need root';
  const missing = await hasTools('losetup', 'sgdisk', 'wipefs', 'partx', 'blkid', 'mkfs.ext4', 'mkfs.vfat', 'blockdev');
  if (missing) return missing;
  const free = await sh('losetup', ['--find'], { allowFailure: true });
  return free.exitCode === 0 ? null : `no free loop device: ${free.stderr.trim()}`;
}

/** Attaches a file with partition scanning and the given logical sector size; returns /dev/loopN. */
export async function attachLoop(file: string, sectorSize: number): Promise<string> {
  const { stdout } = await sh('losetup', ['--show', '--find', '--partscan', '--sector-size', String(sectorSize), file]);
  return stdout.trim();
}

export async function detachLoop(device: string): Promise<void> {
  await sh('losetup', ['--detach', device], { allowFailure: true });
}

/**
 * Makes the kernel know the partitions just written. Some kernels (this CI's
 * among them) do not parse GPT or MBR themselves, so partx adds them from
 * userspace; elsewhere it merely confirms what the kernel already read.
 */
export async function syncPartitions(device: string, count: number): Promise<string[]> {
  await sh('partx', ['--update', device], { allowFailure: true });
  await sh('partx', ['--add', device], { allowFailure: true });
  const nodes = Array.from({ length: count }, (_, i) => `${device}p${i + 1}`);
  for (const node of nodes) await waitForPath(node);
  return nodes;
}

export async function waitForPath(path: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Signature types libblkid finds at a byte offset of a disk or file (`blkid -p -O`). */
export async function probeAt(path: string, offset: number): Promise<string[]> {
  const result = await sh('blkid', ['-p', '-O', String(offset), '-o', 'export', path], { allowFailure: true });
  if (result.exitCode === 2) return [];
  if (result.exitCode !== 0) throw new Error(`blkid -p -O ${offset} ${path} exited with ${result.exitCode}: ${result.stderr}`);
  return result.stdout.split('\n').filter((l) => /^(TYPE|PTTYPE)=/.test(l)).map((l) => l.slice(l.indexOf('=') + 1));
}

/** Everything wipefs still sees on a device, in its plain listing (empty when clean). */
export async function remainingSignatures(path: string): Promise<string> {
  return (await sh('wipefs', ['--no-act', path])).stdout.trim();
}

export async function readBytes(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Writes an md metadata 1.2 superblock (4 KiB into the member) the way mdadm
 * lays it out, checksum included, so libblkid reports linux_raid_member. Used
 * where the kernel has no md driver and `mdadm --create` cannot run.
 */
export async function writeMdSuperblock(path: string, memberOffset: number, devNumber: number, setUuid: Buffer): Promise<void> {
  const maxDev = 2;
  const sb = Buffer.alloc(256 + maxDev * 2);
  sb.writeUInt32LE(0xa92b4efc, 0); // magic
  sb.writeUInt32LE(1, 4); // major_version
  setUuid.copy(sb, 16, 0, 16);
  sb.write('ingot:erase-test', 32, 'ascii');
  sb.writeBigUInt64LE(BigInt(Math.floor(Date.now() / 1000)), 64); // ctime
  sb.writeInt32LE(1, 72); // level: RAID1
  sb.writeUInt32LE(2, 92); // raid_disks
  sb.writeBigUInt64LE(2048n, 128); // data_offset, sectors
  sb.writeBigUInt64LE(8n, 144); // super_offset: 4 KiB in 512-byte sectors, what libblkid checks
  sb.writeUInt32LE(devNumber, 160);
  randomBytes(16).copy(sb, 168); // device_uuid
  sb.writeBigUInt64LE(1n, 200); // events
  sb.writeUInt32LE(maxDev, 220);
  sb.writeUInt16LE(0, 256);
  sb.writeUInt16LE(1, 258);
  let sum = 0n;
  for (let at = 0; at < sb.length; at += 4) sum += BigInt(sb.readUInt32LE(at));
  const folded = (sum & 0xffffffffn) + (sum >> 32n);
  sb.writeUInt32LE(Number(folded & 0xffffffffn), 216); // sb_csum, summed while it was zero
  const handle = await open(path, 'r+');
  try {
    await handle.write(sb, 0, sb.length, memberOffset + 4096);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** md RAID1 over two members: real mdadm when the kernel has md, else the superblocks mdadm would write. */
export async function createRaidMembers(members: readonly string[]): Promise<'mdadm' | 'superblock'> {
  const mdAvailable = await access('/proc/mdstat').then(() => true, () => false);
  if (mdAvailable && !(await hasTools('mdadm'))) {
    const array = '/dev/md/ingot-erase-test';
    await sh('mdadm', ['--create', array, '--run', '--level=1', '--raid-devices=2', '--metadata=1.2', ...members]);
    await sh('mdadm', ['--stop', array]);
    return 'mdadm';
  }
  const setUuid = randomBytes(16);
  for (const [index, member] of members.entries()) await writeMdSuperblock(member, 0, index, setUuid);
  return 'superblock';
}
