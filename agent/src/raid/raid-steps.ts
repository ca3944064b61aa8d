import { describeInput, IngotError, parseStrictBool, type NodeInfo } from '@ingot/protocol';
import type { BlockDevice } from '../disks/block-devices.ts';
import { chooseBootMode, chooseDiskLabel, readRamdiskBootMode } from '../disks/boot-mode.ts';
import { listArrays } from '../disks/md-arrays.ts';
import type { BootMode, DiskLabel } from '../disks/partition-layout.ts';
import { nodeRaidConfig, parseRaidConfig, parseSkipList, raidConfigError, type RaidConfig, type SkipList } from '../disks/raid-config.ts';
import type { StepContext, StepDefinition, ValidateContext } from '../hardware/manager.ts';
import { createArrays } from './create-arrays.ts';
import { deleteArrays } from './delete-arrays.ts';
import { planRaid, type RaidPlan } from './raid-plan.ts';
import { followResync } from './resync-monitor.ts';

/**
 * The generic manager's `raid` interface (ipa-protocol.md 5.6, §8): the
 * clean steps delete_configuration and create_configuration, the deploy
 * step apply_configuration, each also a service step, all at priority 0
 * (run when asked for; Ironic's [deploy]*_configuration_priority can raise
 * the clean ones). Every configuration is read and planned on the disk list
 * in the execute_*_step request, so a configuration that cannot be built is
 * a 400 naming the volume and the reason, with every disk untouched.
 */
export function raidSteps(): StepDefinition[] {
  const create = { name: 'create_configuration', interface: 'raid', rebootRequested: false, validate: validateCreate, run: runCreate } as const;
  const remove = { name: 'delete_configuration', interface: 'raid', rebootRequested: false, validate: validateDelete, run: runDelete } as const;
  const apply = {
    name: 'apply_configuration', interface: 'raid', rebootRequested: false, validate: validateApply, run: runApply,
    argsinfo: {
      raid_config: { description: 'The RAID configuration to apply.', required: true },
      delete_existing: { description: "Setting this to 'True' indicates to delete existing RAID configuration prior to creating the new configuration. Default value is 'True'.", required: false },
    },
  } as const;
  return [
    { ...remove, kind: 'clean', priority: 0, abortable: true },
    { ...create, kind: 'clean', priority: 0, abortable: true },
    { ...apply, kind: 'deploy', priority: 0, abortable: false },
    { ...remove, kind: 'service', priority: 0, abortable: true },
    { ...apply, kind: 'service', priority: 0, abortable: true },
    { ...create, kind: 'service', priority: 0, abortable: true },
  ];
}

interface Prepared {
  config: RaidConfig;
  plan: RaidPlan<BlockDevice>;
  bootMode: BootMode;
  label: DiskLabel;
  skip: SkipList;
}

/** The node's configuration: create_configuration takes no arguments (Ironic puts it on the node). */
function createConfigOf(node: NodeInfo): RaidConfig | null {
  const config = nodeRaidConfig(node);
  if (config === null && node.target_raid_config === undefined && (node.driver_internal_info as Record<string, unknown> | undefined)?.target_raid_config === undefined) {
    throw raidConfigError('the node has no target_raid_config; set one (openstack baremetal node set --target-raid-config FILE) before create_configuration');
  }
  return config;
}

function applyArgsOf(args: Record<string, unknown>): { config: RaidConfig | null; deleteExisting: boolean } {
  if (args.raid_config === undefined || args.raid_config === null) throw raidConfigError('apply_configuration needs the argument raid_config (a target_raid_config: {"logical_disks": [...]})');
  let deleteExisting = true;
  if (args.delete_existing !== undefined && args.delete_existing !== null) {
    const parsed = parseStrictBool(args.delete_existing);
    if (parsed === undefined) throw raidConfigError(`apply_configuration: delete_existing must be true or false, got ${describeInput(args.delete_existing)}`);
    deleteExisting = parsed;
  }
  return { config: parseRaidConfig(args.raid_config, 'raid_config'), deleteExisting };
}

const isArray = (disk: BlockDevice) => disk.type === 'md' || disk.type.startsWith('raid');

/**
 * Plans the configuration on the disks as they are. Unless the step deletes
 * the existing configuration first, a member disk must be blank: a partition
 * table or a running array on it is refused, as IPA refuses it, but here
 * before anything is written.
 */
async function prepare(ctx: ValidateContext, config: RaidConfig, deleteExisting: boolean): Promise<Prepared> {
  const skip = parseSkipList(ctx.node.properties);
  const bootMode = chooseBootMode(ctx.node, { deployBootMode: null }, await readRamdiskBootMode(ctx.system));
  // UEFI needs GPT; under BIOS the disk_label capability may ask for it (§8.3 step 3).
  const label: DiskLabel = bootMode === 'uefi' ? 'gpt' : chooseDiskLabel(ctx.node, { diskLabel: null }) ?? 'msdos';
  const disks = (await ctx.devices.listDisks()).filter((disk) => !isArray(disk));
  const plan = planRaid({ config, disks, skip: skip.disks, bootMode, label });
  if (!deleteExisting) {
    const arrays = await listArrays(ctx.system, ctx.devices.guard);
    for (const { disk } of plan.disks) {
      const partitions = await ctx.devices.listPartitions(disk);
      const holding = arrays.find((array) => array.members.some((member) => member === disk.name || partitions.some((p) => p.node === member)));
      if (holding) throw raidConfigError(`${disk.name} is a member of the running array ${holding.device}${holding.name ? ` "${holding.name}"` : ''}; run delete_configuration first`);
      if (partitions.length > 0) throw raidConfigError(`${disk.name} already has ${partitions.length} partition${partitions.length === 1 ? '' : 's'} (a previous configuration or deployment); run delete_configuration (or erase_devices_metadata) first`);
    }
  }
  return { config, plan, bootMode, label, skip };
}

async function validateCreate(ctx: ValidateContext): Promise<void> {
  const config = createConfigOf(ctx.node);
  if (config) await prepare(ctx, config, false);
}

async function validateApply(ctx: ValidateContext, args: Record<string, unknown>): Promise<void> {
  const { config, deleteExisting } = applyArgsOf(args);
  if (config) await prepare(ctx, config, deleteExisting);
}

async function validateDelete(ctx: ValidateContext): Promise<void> {
  parseSkipList(ctx.node.properties);
}

/** Software RAID needs the md driver and partition nodes: only the ramdisk has both for sure. */
function requireRamdisk(ctx: StepContext, step: string): void {
  if (ctx.devices.guard.mode !== 'ramdisk') {
    throw new IngotError('INGOT_RAID_FAILED', { details: `${step}: software RAID arrays are built only inside the agent's ramdisk (md driver, partition device nodes); this agent runs on the disks it was given (${ctx.devices.guard.disks.join(', ')}), and no disk was touched` });
  }
}

async function build(ctx: StepContext, prepared: Prepared, rawConfig: unknown): Promise<unknown> {
  const arrays = await createArrays(ctx, prepared.plan, prepared);
  // The initial resync goes on in the background; the command's status follows it.
  void followResync({ system: ctx.system, guard: ctx.devices.guard, log: ctx.log, signal: ctx.signal, progress: ctx.progress }, arrays);
  // Ironic's post-step hook stores the result as the node's raid_config (update_raid_info): the configuration as given, as IPA returns it.
  return rawConfig;
}

async function runCreate(ctx: StepContext): Promise<unknown> {
  const config = createConfigOf(ctx.node);
  if (!config) {
    ctx.log.info('no logical disk of target_raid_config asks for controller "software"; nothing to do');
    return {};
  }
  requireRamdisk(ctx, 'create_configuration');
  const raw = (ctx.node.driver_internal_info as Record<string, unknown> | undefined)?.target_raid_config ?? ctx.node.target_raid_config;
  return build(ctx, await prepare(ctx, config, false), raw);
}

async function runApply(ctx: StepContext, args: Record<string, unknown>): Promise<unknown> {
  const { config, deleteExisting } = applyArgsOf(args);
  if (!config) {
    ctx.log.info('no logical disk of raid_config asks for controller "software"; nothing to do');
    return {};
  }
  requireRamdisk(ctx, 'apply_configuration');
  if (deleteExisting) await deleteArrays(ctx, parseSkipList(ctx.node.properties).volumes);
  return build(ctx, await prepare(ctx, config, false), args.raid_config);
}

async function runDelete(ctx: StepContext): Promise<unknown> {
  const { removed, erased } = await deleteArrays(ctx, parseSkipList(ctx.node.properties).volumes);
  ctx.log.info({ removed, erased }, 'software RAID configuration deleted');
  ctx.progress({ stage: 'software RAID deleted', message: removed.length === 0 ? 'no array was found' : `removed ${removed.join(', ')}; erased ${erased.join(', ') || 'no disk'}` });
  return {};
}
