/**
 * The in-band deploy step that builds software RAID, as Ironic sends it from
 * a deploy template (ipa-protocol.md §8.1): `raid.apply_configuration` with
 * the target_raid_config as `raid_config`, and what its result says.
 */
import { describeInput, type StepRequest } from '@ingot/protocol';
import type { TargetRaidConfig } from './raid-config-file.ts';

export const APPLY_CONFIGURATION = 'raid.apply_configuration';

/**
 * `delete_existing: true` (IPA's default, said out loud): arrays a previous
 * deployment left are stopped and their members cleared first, so a redeploy
 * builds what the file asks rather than failing on disks already in use.
 */
export function applyConfigurationStep(raidConfig: TargetRaidConfig): StepRequest {
  return { interface: 'raid', step: 'apply_configuration', args: { raid_config: raidConfig, delete_existing: true } };
}

/** A scalar the agent sent, shown only when it looks like what it should be (the line stays one line, whatever an agent sends). */
const short = (value: unknown, shape: RegExp): string | undefined => ((typeof value === 'string' || typeof value === 'number') && shape.test(String(value)) ? String(value) : undefined);

/**
 * The step's `deploy_result` in one line for a person: each logical disk the
 * agent reports with its name, level and size, and the root device it chose
 * (`root_device_hint`), e.g. `"root" RAID 1 64 GiB, root device /dev/md0;
 * "data" RAID 1+0 MAX`. Only what the agent sent: a result of another shape
 * is said to be so, not guessed at.
 */
export function describeRaidResult(result: unknown): string {
  const disks = (result as { logical_disks?: unknown } | null)?.logical_disks;
  if (!Array.isArray(disks) || disks.length === 0) return 'the agent reported no logical disks';
  return disks.map((entry: unknown, index) => {
    const disk = (entry ?? {}) as Record<string, unknown>;
    const name = typeof disk.volume_name === 'string' ? describeInput(disk.volume_name) : `logical_disks[${index}]`;
    const level = short(disk.raid_level, /^[0-9+]{1,4}$/);
    const size = disk.size_gb === 'MAX' ? 'MAX' : short(disk.size_gb, /^\d{1,9}$/);
    const root = short((disk.root_device_hint as { name?: unknown } | null | undefined)?.name, /^[\w./:-]{1,200}$/);
    return `${name}${level ? ` RAID ${level}` : ''}${size ? ` ${size}${size === 'MAX' ? '' : ' GiB'}` : ''}${root ? `, root device ${root}` : ''}`;
  }).join('; ');
}
