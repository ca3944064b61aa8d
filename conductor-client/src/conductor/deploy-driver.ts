/**
 * A whole-disk image deploy as Ironic 21.4 runs it (ironic-conductor.md §4,
 * §6b), driven by polling instead of heartbeats: `deploy.get_deploy_steps`,
 * the out-of-band `write_image` step sent as `deploy.execute_deploy_step`
 * with Ironic's `image_info`, polled to completion, then
 * `standby.get_partition_uuids` and `standby.power_off` (tear_down_agent).
 * Built only on the package's public API.
 *
 * What it leaves out, on purpose: `image.install_bootloader` (Ironic calls it
 * for whole-disk images only in UEFI mode with manage_agent_boot; this
 * conductor deploys as boot_mode=bios, and Ingot has no `image` extension
 * yet), and everything out of band (boot device, BMC power, networks).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { IngotError, isIngotError, type CommandProgress, type CommandResult, type NodeInfo, type StepRequest } from '@ingot/protocol';
import { commandError, type AgentClient } from '../index.ts';
import { buildImageInfo, type DeployImage } from './image-info.ts';
import { deployedDevice, readRootDisk, type RootDisk } from './root-disk.ts';

export type DeployProgress =
  | { type: 'steps'; inBand: string[] }
  | { type: 'write-start'; step: StepRequest }
  | { type: 'progress'; step: StepRequest; progress: CommandProgress | null | undefined }
  | { type: 'written'; step: StepRequest; durationMs: number; result: unknown }
  | { type: 'partition-uuids'; uuids: Record<string, unknown> }
  | { type: 'powered-off' };

export interface DriveDeploymentOptions {
  client: AgentClient;
  node: NodeInfo;
  ports: unknown[];
  image: DeployImage;
  /** `args.configdrive` of write_image. Default null (none). */
  configdrive?: unknown;
  log: Logger;
  onProgress?: (event: DeployProgress) => void;
  signal?: AbortSignal;
  /** Between polls of the running write; Ironic's command_wait_interval is 6 s. Default 2000. */
  pollIntervalMs?: number;
  /** Longest the image write may run. Default 3 hours (a large image over a slow link). */
  stepTimeoutMs?: number;
  /** Send `standby.power_off` at the end (Ironic's tear_down_agent). Default true. */
  powerOff?: boolean;
  /**
   * Runs once the image is written and the partition uuids read, before
   * `standby.power_off`, while the agent is still up: where Ironic's
   * tear_down_agent collects the ramdisk logs (`deploy_logs_collect=always`).
   * A rejection fails the deploy, so it should not reject.
   */
  beforeTearDown?: () => Promise<void>;
}

export interface DeploymentReport extends RootDisk {
  /** `command_result.deploy_result` of write_image, e.g. `{result: "prepare_image: image (…) written to device …"}`. */
  deployResult: unknown;
  /** The device deployResult names (`written to device /dev/sda`), or null when it names none. */
  device: string | null;
  /** What `standby.get_partition_uuids` answered; `root uuid` is the MBR disk identifier for whole-disk images. */
  partitionUuids: Record<string, unknown>;
  /** Time the write_image step took on the agent, as seen by polling. */
  writeDurationMs: number;
  /** The last command_progress seen (done/total of the served image). */
  lastProgress: CommandProgress | null;
  poweredOff: boolean;
}

/**
 * `details` says where (which command), the cause says why: the agent's error
 * or the client's. The cause's text is not copied into the message, since
 * every reader of the chain (pino's err serializer, describeFailure) appends it.
 */
const failed = (details: string, cause?: unknown) => new IngotError('INGOT_DEPLOYMENT_FAILED', { details, cause });
const isMismatch = (result: CommandResult) => result.command_status === 'VERSION_MISMATCH' || result.command_status === 'CLEAN_VERSION_MISMATCH';

/** The write_image step Ironic sends: interface, step and args only, no priority (ironic-conductor.md §4, observed). */
export function writeImageStep(image: DeployImage, nodeUuid: string, configdrive: unknown = null): StepRequest {
  return { interface: 'deploy', step: 'write_image', args: { image_info: buildImageInfo(image, nodeUuid), configdrive } };
}

/**
 * Writes the image and tears the agent down; throws INGOT_DEPLOYMENT_FAILED
 * naming the command that failed, with the agent's error as `cause`.
 */
export async function driveDeployment(options: DriveDeploymentOptions): Promise<DeploymentReport> {
  const { client, node, ports, log } = options;
  const step = writeImageStep(options.image, node.uuid, options.configdrive ?? null);
  let lastProgress: CommandProgress | null = null;
  let written: { result: CommandResult; durationMs: number } | undefined;
  // A version mismatch makes Ironic re-fetch the steps and re-run the step (deploy is not restarted), once here.
  for (let round = 1; !written; round++) {
    const listed = await client.getDeploySteps(node, ports).catch((error: unknown) => { throw failed('deploy.get_deploy_steps', error); });
    const inBand = Object.values(listed.steps).flat().map((s) => `${s.interface}.${s.step}`);
    options.onProgress?.({ type: 'steps', inBand });
    // The conductor's out-of-band write_image shadows the agent's in-band one; an agent without it cannot write images.
    if (!inBand.includes('deploy.write_image')) log.warn({ inBand }, 'the agent lists no write_image deploy step; sending it anyway, as Ironic does');
    options.onProgress?.({ type: 'write-start', step });
    log.info({ image: (step.args as { image_info: { id: string } }).image_info.id, url: options.image.url }, 'writing the image');
    const started = Date.now();
    const final = await runWriteImage(options, step, listed.hardwareManagerVersion, (progress) => { lastProgress = progress ?? lastProgress; });
    if (isMismatch(final)) {
      if (round >= 2) throw failed(`hardware manager versions changed again while deploying (${final.command_status})`, commandError(final));
      log.warn('hardware manager version mismatch; fetching the deploy steps again');
      continue;
    }
    written = { result: final, durationMs: Date.now() - started };
  }
  const deployResult = (written.result.command_result as { deploy_result?: unknown } | null)?.deploy_result ?? null;
  options.onProgress?.({ type: 'written', step, durationMs: written.durationMs, result: deployResult });
  log.info({ durationMs: written.durationMs, result: deployResult }, 'image written');

  // prepare_instance_boot: the root uuid Ironic stores as root_uuid_or_disk_id (ironic-conductor.md §4).
  const partitionUuids = await client.getPartitionUuids().catch((error: unknown) => { throw failed('standby.get_partition_uuids', error); });
  options.onProgress?.({ type: 'partition-uuids', uuids: partitionUuids });
  await options.beforeTearDown?.();

  let poweredOff = false;
  if (options.powerOff ?? true) {
    // tear_down_agent: Ironic sends power_off without awaiting it and only logs its outcome; the BMC tells the rest.
    try {
      await client.powerOff();
      poweredOff = true;
      options.onProgress?.({ type: 'powered-off' });
    } catch (error) {
      log.warn({ err: error }, 'standby.power_off failed; power the node off out of band');
    }
  }
  return { deployResult, device: deployedDevice(deployResult), partitionUuids, ...readRootDisk(partitionUuids), writeDurationMs: written.durationMs, lastProgress, poweredOff };
}

async function runWriteImage(
  options: DriveDeploymentOptions, step: StepRequest, version: Record<string, string>, onSample: (p: CommandProgress | null | undefined) => void,
): Promise<CommandResult> {
  const { client, node, ports, signal, log } = options;
  const intervalMs = options.pollIntervalMs ?? 2000;
  const progress = (result: CommandResult | undefined) => {
    onSample(result?.command_progress);
    options.onProgress?.({ type: 'progress', step, progress: result?.command_progress });
  };
  let started: CommandResult | undefined;
  // A busy agent (409) is still finishing something: wait and retry, as Ironic does on the next heartbeat.
  for (let attempt = 1; !started; attempt++) {
    try {
      started = await client.executeDeployStep(step, node, ports, version);
    } catch (error) {
      if (!isIngotError(error, 'INGOT_AGENT_BUSY') || attempt >= 30) throw failed('deploy.write_image could not be started on the agent', error);
      log.info('agent busy; sending write_image again shortly');
      await sleep(intervalMs, undefined, { signal });
    }
  }
  const final = started.command_status === 'RUNNING'
    ? await client.waitForCommand('execute_deploy_step', {
      id: started.id || undefined, intervalMs, timeoutMs: options.stepTimeoutMs ?? 3 * 3600_000, signal, onProgress: progress,
    }).catch((error: unknown) => { throw failed('deploy.write_image, while polling its status', error); })
    : started;
  progress(final);
  if (isMismatch(final)) return final;
  if (final.command_status !== 'SUCCEEDED') {
    const agentError = commandError(final);
    throw failed(`deploy.write_image failed on the agent${agentError ? '' : ` (${final.command_status})`}`, agentError);
  }
  // The agent must echo the step it ran (ironic-conductor.md §2, process_next_step).
  const echoed = (final.command_result as { deploy_step?: StepRequest } | null)?.deploy_step;
  if (!echoed || echoed.step !== step.step || (echoed.interface ?? step.interface) !== step.interface) {
    throw failed(`deploy.write_image: the agent's result does not echo the step (got ${echoed ? `${echoed.interface}.${echoed.step}` : 'nothing'})`);
  }
  return final;
}
