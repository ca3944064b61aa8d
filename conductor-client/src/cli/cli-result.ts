/**
 * What `ingot-conductor --json` prints: one object, a script's view of the
 * run, success or not. Durations in seconds; the image URL without secrets.
 */
import { redactUrl, type CommandProgress, type ErrorCode } from '@ingot/protocol';
import type { ReferenceCleaningReport, ReferenceDeploymentReport, ReferenceNodeState } from '../conductor/reference-conductor.ts';
import { describeRootDisk } from '../conductor/root-disk.ts';
import type { RescueReport } from '../conductor/rescue-driver.ts';
import type { SnapshotReport } from '../conductor/snapshot-driver.ts';
import type { SnapshotManifest } from '@ingot/protocol';

export type CliOutcome = 'succeeded' | 'failed' | 'timed out' | 'interrupted';

export interface CliResult {
  command: 'clean' | 'deploy' | 'rescue' | 'snapshot';
  outcome: CliOutcome;
  exit_status: number;
  node: { uuid: string; state: ReferenceNodeState | null };
  /** From the start of the command to its end. */
  duration_s: number;
  agent: { version: string; callback_url: string } | null;
  cleaning: { steps: Array<{ interface: string; step: string; priority: number; duration_s: number }> } | null;
  deploy: {
    image_url: string;
    write_image_s: number;
    /** Bytes as served (compressed if the image is). */
    served_bytes: number | null;
    device: string | null;
    root_uuid: string | null;
    partition_table: 'gpt' | 'msdos' | null | undefined;
    disk_guid: string | null | undefined;
    /** How a person reads the three above: "GPT disk ...", "MBR disk identifier 0x...". */
    root_disk: string;
    powered_off: boolean;
    /**
     * With --raid-config: raid.apply_configuration's time, its result as the
     * agent returned it (the raid_config as given, from Ingot's agent and
     * IPA), and the arrays' resync once the image was written (the step's
     * command_progress, one item per array from Ingot's agent; null if none);
     * null without --raid-config.
     */
    raid: { apply_configuration_s: number; result: unknown; resync: CommandProgress | null } | null;
  } | null;
  rescue: { hashed: boolean; duration_s: number } | null;
  /** `snapshot`: where the image is (no signature), the manifest stored beside it, the segments uploaded and their retries. */
  snapshot: { location: string; manifest: SnapshotManifest; segments: number; retried_segments: number; duration_s: number } | null;
  /** Ramdisk log archives saved during the run. */
  logs: string[];
  error: { code: ErrorCode | null; codes: ErrorCode[]; message: string; hint: string } | null;
}

export const toSeconds = (ms: number) => Number((ms / 1000).toFixed(3));

export function cleaningResult(report: ReferenceCleaningReport): NonNullable<CliResult['cleaning']> {
  return { steps: report.steps.map((s) => ({ interface: s.interface, step: s.step, priority: s.priority, duration_s: toSeconds(s.durationMs) })) };
}

export function deployResult(imageUrl: string, report: ReferenceDeploymentReport): NonNullable<CliResult['deploy']> {
  return {
    image_url: redactUrl(imageUrl), write_image_s: toSeconds(report.writeDurationMs),
    served_bytes: report.lastProgress?.total ?? report.lastProgress?.done ?? null,
    device: report.device, root_uuid: report.rootUuid, partition_table: report.partitionTable, disk_guid: report.diskGuid,
    root_disk: describeRootDisk(report), powered_off: report.poweredOff,
    raid: report.raid ? { apply_configuration_s: toSeconds(report.raid.durationMs), result: report.raid.result, resync: report.raid.resync } : null,
  };
}

export function rescueResult(report: RescueReport): NonNullable<CliResult['rescue']> {
  return { hashed: report.hashed, duration_s: toSeconds(report.durationMs) };
}

export function snapshotResult(report: SnapshotReport): NonNullable<CliResult['snapshot']> {
  return {
    location: redactUrl(report.location), manifest: report.manifest, segments: report.result.segments.length,
    retried_segments: report.result.segments.filter((segment) => segment.attempts > 1).length, duration_s: toSeconds(report.durationMs),
  };
}
