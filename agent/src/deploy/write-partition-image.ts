import { IngotError, isIngotError } from '@ingot/protocol';
import type { BlockDevice } from '../disks/block-devices.ts';
import { eraseDeviceMetadata } from '../disks/erase-metadata.ts';
import type { System } from '../system/system.ts';
import { blkidProbeArgv, parseBlkidExport, type BlkidProbe } from '../tools/blkid.ts';
import { mkfsArgv, mkswapArgv, parseEphemeralFormat } from '../tools/mkfs.ts';
import { parsePartx, partxArgv } from '../tools/partx.ts';
import { sfdiskScript, sfdiskWriteArgv, type MbrPartitionSpec } from '../tools/sfdisk.ts';
import { GPT_TYPES, sgdiskCreateTableArgv, type GptPartitionSpec } from '../tools/sgdisk.ts';
import type { ConfigDriveImage } from '../image/request/config-drive.ts';
import type { ImageInfo } from '../image/request/image-info.ts';
import {
  MiB, partitionPath, partitionPaths, partitionUuidsResult, planPartitionLayout,
  type PartitionLayout, type PartitionUuids, type PlannedPartition,
} from '../disks/partition-layout.ts';
import { chooseRootDevice } from '../disks/choose-root-device.ts';
import { chooseBootMode, chooseDiskLabel, readRamdiskBootMode } from '../disks/boot-mode.ts';
import { readExpectedDigest } from '../image/request/checksums.ts';
import { targetOfPartition, writeConfigDrive } from './config-drive-writer.ts';
import { settlePartitionTable } from '../disks/partition-table.ts';
import { streamImage, type DeployContext, type DeployImageOptions, type DeployImageResult } from './write-whole-disk.ts';

/** IPA's filesystem labels (9.7 step 5). */
const LABELS = { esp: 'efi-part', swap: 'swap1', ephemeral: 'ephemeral0' } as const;

/**
 * A partition image (ipa-protocol.md 9.7): IPA's layout on the root disk
 * (ESP or BIOS boot partition, ephemeral, swap, config drive, root last),
 * filesystems for the ESP, swap and ephemeral, then the image streamed into
 * the root partition and the config drive copied into its own. With
 * `preserve_ephemeral` the table is left as it is, checked against the plan,
 * and the ephemeral filesystem is kept.
 */
export async function deployPartitionImage(ctx: DeployContext, info: ImageInfo, configDrive: ConfigDriveImage | null, options: DeployImageOptions): Promise<DeployImageResult> {
  const spec = info.partition!;
  const disk = await chooseRootDevice(ctx);
  const log = ctx.log.child({ image: info.id, device: disk.name });
  if (disk.type === 'file') {
    throw new IngotError('INGOT_DEPLOYMENT_FAILED', {
      details: `a partition image needs partition device nodes and ${disk.name} is a disk file; attach it with \`losetup --partscan --find --show ${disk.name}\` and give the agent the loop device`,
    });
  }
  const ephemeralFormat = parseEphemeralFormat(spec.ephemeralFormat);
  const bootMode = chooseBootMode(ctx.node, spec, await readRamdiskBootMode(ctx.system));
  const layout = planPartitionLayout({
    bootMode,
    diskLabel: chooseDiskLabel(ctx.node, spec),
    rootMb: spec.rootMb, swapMb: spec.swapMb, ephemeralMb: spec.ephemeralMb,
    configDrive: configDrive !== null,
    configDriveMb: configDrive ? Math.max(1, Math.ceil(configDrive.image.length / MiB)) : undefined,
    diskSizeBytes: disk.size,
    logicalSectorSize: disk.logicalSectorSize,
  });
  const firstUrl = info.urls[0]!;
  const expected = await readExpectedDigest(info.checksumSpec, firstUrl, options);
  log.info({ bootMode, diskLabel: layout.diskLabel, partitions: layout.partitions.map((p) => `${p.number}:${p.role}:${p.sizeMiB}MiB`), preserveEphemeral: spec.preserveEphemeral }, 'writing partition image');

  options.beforeWrite?.();
  if (spec.preserveEphemeral) {
    await checkPreservedTable(ctx.system, disk, layout);
  } else {
    await eraseDeviceMetadata(ctx, disk);
    await writeTable(ctx.system, disk, layout);
  }
  await settlePartitionTable(ctx.system, disk, log, layout.partitions.map((p) => p.number));
  const node = (p: PlannedPartition) => partitionPath(disk.name, p.number);
  const byRole = new Map(layout.partitions.map((p) => [p.role, p]));

  const esp = byRole.get('efi system partition');
  if (esp) await ctx.system.run(mkfsArgv('vfat', node(esp), LABELS.esp));
  const swap = byRole.get('swap');
  if (swap) await ctx.system.run(mkswapArgv(node(swap), LABELS.swap));
  const ephemeral = byRole.get('ephemeral');
  if (ephemeral && !spec.preserveEphemeral) await ctx.system.run(mkfsArgv(ephemeralFormat, node(ephemeral), LABELS.ephemeral));

  const root = byRole.get('root')!;
  const written = await streamImage(ctx, info, expected, { path: node(root), size: root.sizeMiB * MiB }, options, log).catch((error: unknown) => {
    if (isIngotError(error, 'INGOT_IMAGE_TOO_LARGE')) {
      throw new IngotError('INGOT_IMAGE_TOO_LARGE', { details: `root partition is too small for requested image (root_mb is ${spec.rootMb}): ${error.details}; raise root_mb (the flavor's root_gb) or use a smaller image`, cause: error });
    }
    throw error;
  });

  const configDrivePartition = byRole.get('configdrive');
  if (configDrive && configDrivePartition) {
    await writeConfigDrive(ctx.system, targetOfPartition(disk, { number: configDrivePartition.number, start: configDrivePartition.startMiB * MiB, size: configDrivePartition.sizeMiB * MiB, node: null }), configDrive, log);
  }
  await settlePartitionTable(ctx.system, disk, log, layout.partitions.map((p) => p.number));

  const rootProbe = await probe(ctx.system, node(root));
  const rootUuid = rootProbe.uuid ?? rootProbe.partUuid;
  const espUuid = esp ? (await probe(ctx.system, node(esp))).uuid : null;
  log.info({ format: written.format, bytes: written.imageBytes, digest: written.digest.value, rootUuid, espUuid, durationMs: written.durationMs }, 'partition image written and verified');
  const partitionUuids: PartitionUuids = partitionUuidsResult({
    imageType: 'partition', partitions: partitionPaths(disk.name, layout), rootUuid, efiSystemPartitionUuid: espUuid,
  });
  return { result: resultMessage(info, disk.name, partitionUuids), partitionUuids };
}

/** IPA's `_message_format`: the ESP uuid is added only when image_info says uefi and there is one. */
function resultMessage(info: ImageInfo, device: string, uuids: PartitionUuids): string {
  const base = `prepare_image: image (${info.id}) written to device ${device} root_uuid=${uuids['root uuid']}`;
  const esp = uuids['efi system partition uuid'];
  return info.partition?.deployBootMode === 'uefi' && esp ? `${base} efi_system_partition_uuid=${esp}` : base;
}

async function probe(system: System, path: string): Promise<BlkidProbe> {
  const result = await system.run(blkidProbeArgv(path), { allowFailure: true });
  return parseBlkidExport(result.exitCode === 0 ? result.stdout : '');
}

const GPT_TYPE_OF = {
  'efi system partition': GPT_TYPES.esp,
  'BIOS Boot partition': GPT_TYPES.biosBoot,
  swap: GPT_TYPES.swap,
} as const;
const MBR_TYPE_OF = { 'efi system partition': 'ef', swap: '82', configdrive: 'c' } as const;

export function gptSpecs(layout: PartitionLayout): GptPartitionSpec[] {
  return layout.partitions.map((p) => ({
    number: p.number, startSector: p.startSector, endSector: p.endSector,
    typeGuid: (GPT_TYPE_OF as Record<string, string>)[p.role] ?? GPT_TYPES.linux,
    // IPA's parted names GPT partitions after their role; the config drive's name is what a whole-disk lookup matches.
    name: p.role === 'configdrive' ? 'config-2' : p.role.replace(/ /g, '-').toLowerCase(),
  }));
}

export function mbrSpecs(layout: PartitionLayout): MbrPartitionSpec[] {
  return layout.partitions.map((p) => ({
    startSector: p.startSector, sizeSectors: p.endSector - p.startSector + 1,
    type: (MBR_TYPE_OF as Record<string, string>)[p.role] ?? '83',
    bootable: p.flags.includes('boot'),
  }));
}

async function writeTable(system: System, disk: BlockDevice, layout: PartitionLayout): Promise<void> {
  if (layout.diskLabel === 'gpt') await system.run(sgdiskCreateTableArgv(disk.name, gptSpecs(layout)));
  else await system.run(sfdiskWriteArgv(disk.name), { input: sfdiskScript(mbrSpecs(layout), { newTable: true }) });
}

/** With preserve_ephemeral the table stays; it must be the layout this request implies, or the ephemeral data is elsewhere. */
async function checkPreservedTable(system: System, disk: BlockDevice, layout: PartitionLayout): Promise<void> {
  const result = await system.run(partxArgv(disk.name), { allowFailure: true });
  const table = result.exitCode === 0 ? parsePartx(result.stdout) : [];
  const mismatch = layout.partitions.find((p) => {
    const found = table.find((entry) => entry.number === p.number);
    return !found || found.start !== p.startMiB * MiB || found.size !== p.sizeMiB * MiB;
  });
  if (mismatch || table.length !== layout.partitions.length) {
    throw new IngotError('INGOT_INVALID_PARAMS', {
      details: `preserve_ephemeral is set but the partitions on ${disk.name} (${table.map((p) => `${p.number}: ${p.start / MiB}+${p.size / MiB} MiB`).join(', ') || 'none'}) are not the layout of this request (${layout.partitions.map((p) => `${p.number} ${p.role}: ${p.startMiB}+${p.sizeMiB} MiB`).join(', ')}); deploy with the same root, swap, ephemeral and config drive sizes, or without preserve_ephemeral`,
    });
  }
}
