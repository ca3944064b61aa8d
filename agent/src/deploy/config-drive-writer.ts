import { randomUUID } from 'node:crypto';
import { IngotError, redactUrl } from '@ingot/protocol';
import type { Logger } from 'pino';
import type { BlockDevice, BlockDevices, Partition } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import { blkidProbeArgv, blkidProbeRangeArgv, parseBlkidExport, type BlkidProbe } from '../tools/blkid.ts';
import { isNoPartitionTable, parsePartx, partxArgv, type TablePartition } from '../tools/partx.ts';
import { sfdiskAppendArgv, sfdiskScript } from '../tools/sfdisk.ts';
import { sgdiskAppendArgv } from '../tools/sgdisk.ts';
import { CONFIG_DRIVE_MAX_BYTES, decodeConfigDriveBody, type ConfigDriveImage, type ConfigDriveSource } from '../image/request/config-drive.ts';
import { CONFIG_DRIVE_MB, MiB, partitionPath } from '../disks/partition-layout.ts';
import { settlePartitionTable } from '../disks/partition-table.ts';

/** The label Ironic gives the config drive and the partition IPA looks for (9.6). */
export const CONFIG_DRIVE_LABEL = 'config-2';
/** msdos counts sectors in 32 bits; with 512-byte sectors the table ends at 2 TiB (IPA: MAX_DISK_SIZE_MB_SUPPORTED_BY_MBR). */
const MBR_LIMIT_BYTES = 2 ** 32 * 512;
const DOWNLOAD_TIMEOUT_MS = 60_000;

/**
 * The config drive's bytes: decoded already when inline, else fetched with
 * one GET (IPA: no proxy, no retry, 9.6), refused as soon as the body passes
 * what the decoder could accept, so a wrong URL cannot fill the ramdisk's RAM.
 */
export async function loadConfigDrive(source: ConfigDriveSource, signal?: AbortSignal): Promise<ConfigDriveImage> {
  if (source.kind === 'inline') return source;
  const shown = redactUrl(source.url);
  const limit = CONFIG_DRIVE_MAX_BYTES * 2; // base64 text of a 64 MiB gzip is 4/3 larger; the decoder enforces 64 MiB itself
  let response: Response;
  try {
    response = await fetch(source.url, { signal: AbortSignal.any([AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), ...(signal ? [signal] : [])]) });
  } catch (error) {
    throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details: `cannot download the config drive from ${shown}: ${(error as Error).message}; check the URL is reachable from the node`, cause: error });
  }
  if (!response.ok || !response.body) {
    throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details: `downloading the config drive from ${shown} answered HTTP ${response.status}; check the URL` });
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await response.body.cancel();
    throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details: `the config drive at ${shown} is ${declared} bytes, over the 64 MiB limit` });
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response.body) {
    length += chunk.byteLength;
    if (length > limit) throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details: `the config drive at ${shown} is more than ${limit} bytes, over the 64 MiB limit` });
    chunks.push(Buffer.from(chunk));
  }
  return decodeConfigDriveBody(Buffer.concat(chunks));
}

/** Where a config drive goes: a partition node, or a byte range of a disk file (no nodes there). */
export interface ConfigDriveTarget {
  path: string;
  offset: number;
  capacity: number;
  /** The partition, for messages: `/dev/sda5`, or `disk.img partition 5`. */
  description: string;
}

export async function writeConfigDrive(system: System, target: ConfigDriveTarget, drive: ConfigDriveImage, log: Logger): Promise<void> {
  if (drive.image.length > target.capacity) {
    throw new IngotError('INGOT_CONFIGDRIVE_INVALID', { details: `the config drive is ${drive.image.length} bytes and ${target.description} holds only ${target.capacity}` });
  }
  await system.writeRange(target.path, target.offset, drive.image);
  log.info({ partition: target.description, bytes: drive.image.length, format: drive.format }, 'config drive written');
}

export function targetOfPartition(disk: BlockDevice, partition: Partition | TablePartition): ConfigDriveTarget {
  if (disk.type === 'file') return { path: disk.name, offset: partition.start, capacity: partition.size, description: `${disk.name} partition ${partition.number}` };
  const node = partitionPath(disk.name, partition.number);
  return { path: node, offset: 0, capacity: partition.size, description: node };
}

export interface WholeDiskConfigDriveContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
}

/**
 * IPA's `create_config_drive_partition` (9.6) after a whole-disk image: an
 * existing partition labelled config-2 is reused; otherwise a 64 MiB
 * partition is added at the end of the disk (GPT: the next number, named
 * config-2; msdos: a primary partition, below 2 TiB, refused when all four
 * are taken). Returns the partition written.
 */
export async function writeWholeDiskConfigDrive(ctx: WholeDiskConfigDriveContext, disk: BlockDevice, drive: ConfigDriveImage): Promise<ConfigDriveTarget> {
  const { system, log } = ctx;
  const table = await readTable(system, disk);
  if (table.length === 0) {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `the whole-disk image on ${disk.name} has no partition table, so there is nowhere to add the config drive; deploy an image with a GPT or msdos table` });
  }
  const labelled: TablePartition[] = [];
  for (const partition of table) {
    const probe = await probePartition(system, disk, partition);
    if (isConfigDriveLabel(probe.label) || isConfigDriveLabel(probe.partLabel)) labelled.push(partition);
  }
  if (labelled.length > 1) {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `more than one partition labelled ${CONFIG_DRIVE_LABEL} exists on ${disk.name} (numbers ${labelled.map((p) => p.number).join(', ')}); the image must hold at most one` });
  }
  let chosen = labelled[0];
  if (chosen) {
    log.info({ device: disk.name, partition: chosen.number }, 'reusing the partition labelled config-2');
  } else {
    const scheme = table[0]!.scheme;
    if (scheme === 'gpt') await addGptPartition(system, disk);
    else if (scheme === 'dos') await addMbrPartition(system, disk, table);
    else throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `the partition table of ${disk.name} is ${scheme ?? 'of an unknown kind'}; a config drive is added to GPT or msdos tables only` });
    const after = await readTable(system, disk);
    const known = new Set(table.map((p) => p.number));
    chosen = after.find((p) => !known.has(p.number));
    if (!chosen) throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `the config drive partition was added to ${disk.name} but the table shows no new partition` });
    log.info({ device: disk.name, partition: chosen.number, start: chosen.start, size: chosen.size }, 'config drive partition created');
  }
  await settlePartitionTable(system, disk, log, [chosen.number]);
  const target = targetOfPartition(disk, chosen);
  await writeConfigDrive(system, target, drive, log);
  return target;
}

function isConfigDriveLabel(label: string | null): boolean {
  return label !== null && label.toLowerCase() === CONFIG_DRIVE_LABEL;
}

async function readTable(system: System, disk: BlockDevice): Promise<TablePartition[]> {
  const result = await system.run(partxArgv(disk.name), { allowFailure: true });
  if (result.exitCode === 0) return parsePartx(result.stdout);
  if (isNoPartitionTable(result.exitCode, result.stderr)) return [];
  throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `reading the partition table of ${disk.name}: partx exited with ${result.exitCode}: ${result.stderr.trim()}` });
}

async function probePartition(system: System, disk: BlockDevice, partition: TablePartition): Promise<BlkidProbe> {
  const argv = disk.type === 'file' ? blkidProbeRangeArgv(disk.name, partition.start, partition.size) : blkidProbeArgv(partitionPath(disk.name, partition.number));
  const result = await system.run(argv, { allowFailure: true });
  return parseBlkidExport(result.exitCode === 0 ? result.stdout : '');
}

async function addGptPartition(system: System, disk: BlockDevice): Promise<void> {
  const result = await system.run(sgdiskAppendArgv(disk.name, { sizeMiB: CONFIG_DRIVE_MB, partitionUuid: randomUUID(), name: CONFIG_DRIVE_LABEL }), { allowFailure: true });
  if (result.exitCode !== 0) {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `cannot add a ${CONFIG_DRIVE_MB} MiB config drive partition at the end of ${disk.name}: ${(result.stdout + result.stderr).trim().split('\n').slice(-2).join(' ')}; the disk needs ${CONFIG_DRIVE_MB} MiB free after the image` });
  }
}

async function addMbrPartition(system: System, disk: BlockDevice, table: readonly TablePartition[]): Promise<void> {
  const primaries = table.filter((p) => p.number <= 4);
  if (primaries.length >= 4) {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `the msdos table of ${disk.name} already has 4 primary partitions, so no config drive partition can be added; give the image a partition labelled ${CONFIG_DRIVE_LABEL} or fewer partitions` });
  }
  const sector = disk.logicalSectorSize;
  const size = await system.deviceSize(disk.name);
  const end = Math.floor(Math.min(size, MBR_LIMIT_BYTES) / MiB) * MiB;
  const start = end - CONFIG_DRIVE_MB * MiB;
  const used = Math.max(...table.map((p) => p.start + p.size));
  if (start < used) {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', { details: `${disk.name} has no ${CONFIG_DRIVE_MB} MiB free below ${end / MiB} MiB after its last partition (which ends at byte ${used}); use a larger disk` });
  }
  const script = sfdiskScript([{ startSector: start / sector, sizeSectors: (end - start) / sector, type: 'c', bootable: false }], { newTable: false });
  await system.run(sfdiskAppendArgv(disk.name), { input: script });
}
