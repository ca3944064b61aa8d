import type { Logger } from 'pino';
import { IngotError, type NodeInfo, type SnapshotPartition } from '@ingot/protocol';
import type { BlockDevice, BlockDevices } from '../disks/block-devices.ts';
import { chooseRootDevice } from '../disks/choose-root-device.ts';
import { selectRootDevice } from '../disks/root-device-hints.ts';
import type { System } from '../system/system.ts';
import { isSfdiskNoTable, parseSfdiskJson, sfdiskJsonArgv, type SfdiskTable } from '../tools/sfdisk.ts';
import type { CaptureRequest } from './capture-params.ts';

/** The disk a capture reads, with what the manifest says of its table. */
export interface CaptureSource {
  disk: BlockDevice;
  size: number;
  table: SfdiskTable;
  /** Every partition in the table, marked whether the capture holds it. */
  partitions: SnapshotPartition[];
}

export interface CaptureDiskContext {
  system: System;
  devices: BlockDevices;
  log: Logger;
  /** The node as the session cached it: its properties.root_device chooses the disk when the request names none. */
  node: NodeInfo;
}

/**
 * Chooses the disk (by name, else by the request's hints, else as a deploy
 * chooses its root device) and reads its partition table with sfdisk's
 * read-only listing. Runs in the command's validation (it only reads), so a
 * partition that does not exist is a 400 naming it before anything starts.
 */
export async function resolveCaptureSource(ctx: CaptureDiskContext, request: CaptureRequest): Promise<CaptureSource> {
  const disk = await chooseDisk(ctx, request);
  const size = await ctx.system.deviceSize(disk.name);
  const table = await readTable(ctx.system, disk);
  if (request.partitions) {
    const known = new Set(table.partitions.map((p) => p.number));
    const missing = request.partitions.filter((n) => !known.has(n));
    if (missing.length > 0) {
      throw new IngotError('INGOT_INVALID_PARAMS', {
        details: `partitions ${JSON.stringify(missing)} do not exist on ${disk.name} (its ${table.label ?? 'missing'} table holds ${JSON.stringify([...known])}); name partitions of the disk, or leave partitions out to capture the whole disk`,
      });
    }
  }
  const chosen = new Set(request.partitions ?? table.partitions.map((p) => p.number));
  const partitions = table.partitions.map((p) => ({
    number: p.number, start_bytes: p.startBytes, size_bytes: p.sizeBytes, uuid: p.uuid, type: p.type, label: p.label, captured: chosen.has(p.number),
  }));
  return { disk, size, table, partitions };
}

async function chooseDisk(ctx: CaptureDiskContext, request: CaptureRequest): Promise<BlockDevice> {
  if (request.device) {
    // 403 for a device this agent was not given, before anything looks at it.
    ctx.devices.guard.check(request.device, 'capture a snapshot of');
    const disk = (await ctx.devices.listDisks()).find((candidate) => candidate.name === request.device);
    if (!disk) throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `${request.device} is not a disk this agent lists; name a whole disk (not a partition), or give root_device_hints` });
    return disk;
  }
  if (request.rootDeviceHints) return selectRootDevice(await ctx.devices.listDisks(), request.rootDeviceHints);
  return chooseRootDevice(ctx);
}

async function readTable(system: System, disk: BlockDevice): Promise<SfdiskTable> {
  const result = await system.run(sfdiskJsonArgv(disk.name), { allowFailure: true });
  if (result.exitCode === 0) return parseSfdiskJson(result.stdout, disk.logicalSectorSize);
  if (isSfdiskNoTable(result.exitCode, result.stderr)) return { label: null, id: null, sectorSize: disk.logicalSectorSize, partitions: [] };
  throw new IngotError('INGOT_SNAPSHOT_READ', { details: `reading the partition table of ${disk.name} failed: sfdisk --json exited with ${result.exitCode}: ${result.stderr.trim()}` });
}
