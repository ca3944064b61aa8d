/**
 * A whole-disk image deploy as Ironic 21.4 runs it (ironic-conductor.md §4,
 * §6b), driven by polling instead of heartbeats: `deploy.get_deploy_steps`,
 * the out-of-band `write_image` step sent as `deploy.execute_deploy_step`
 * with Ironic's `image_info`, polled to completion, then
 * `standby.get_partition_uuids` and `standby.power_off` (tear_down_agent).
 * With a RAID configuration, the in-band `raid.apply_configuration` deploy
 * step runs first, as a deploy template puts it before write_image; the agent
 * then writes the image onto the root volume it built. Built only on the
 * package's public API.
 *
 * What it leaves out, on purpose: `image.install_bootloader` (Ironic calls it
 * for whole-disk images only in UEFI mode with manage_agent_boot; this
 * conductor deploys as boot_mode=bios, and Ingot has no `image` extension
 * yet), and everything out of band (boot device, BMC power, networks).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { IngotError, isIngotError, type CommandProgress, type CommandResult, type NodeInfo, type StepRequest } from '@ingot/protocol';
import { commandError, type AgentClient, type StepsReply } from '../index.ts';
import { buildImageInfo, type DeployImage } from './image-info.ts';
import type { TargetRaidConfig } from './raid-config-file.ts';
import { APPLY_CONFIGURATION, applyConfigurationStep } from './raid-step.ts';
import { deployedDevice, readRootDisk, type RootDisk } from './root-disk.ts';

/** A deploy step's events carry its place in the deploy's list: `raid.apply_configuration` (with a RAID configuration), then `deploy.write_image`. */
export type DeployProgress =
  | { type: 'steps'; inBand: string[] }
  | { type: 'step-start'; step: StepRequest; index: number; total: number }
  | { type: 'progress'; step: StepRequest; progress: CommandProgress | null | undefined }
  | { type: 'step-done'; step: StepRequest; index: number; total: number; durationMs: number; result: unknown }
  | { type: 'partition-uuids'; uuids: Record<string, unknown> }
  | { type: 'powered-off' };

export interface DriveDeploymentOptions {
  client: AgentClient;
  node: NodeInfo;
  ports: unknown[];
  image: DeployImage;
  /** `args.configdrive` of write_image. Default null (none). */
  configdrive?: unknown;
  /**
   * Ironic's target_raid_config: build it with `raid.apply_configuration`
   * (`delete_existing: true`) before the image is written. The node should
   * carry the same as `target_raid_config`, as Ironic's does; without
   * root device hints the agent then writes onto the root volume it built.
   */
  raidConfig?: TargetRaidConfig;
  log: Logger;
  onProgress?: (event: DeployProgress) => void;
  signal?: AbortSignal;
  /** Between polls of the running write; Ironic's command_wait_interval is 6 s. Default 2000. */
  pollIntervalMs?: number;
  /** Longest each deploy step (the RAID build, the image write) may run. Default 3 hours (a large image over a slow link). */
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

/** What `raid.apply_configuration` did, as the agent reported it. */
export interface RaidReport {
  /** Its `command_result.deploy_result`: the raid_config as given, from Ingot's agent and IPA (Ironic stores it as the node's raid_config). */
  result: unknown;
  durationMs: number;
  /**
   * The step's command_progress once the image was written: the arrays'
   * initial resync, which goes on in the background after the step (Ingot's
   * agent: one item per array). Null when the agent reports none.
   */
  resync: CommandProgress | null;
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
  /** The last command_progress of write_image seen (done/total of the served image). */
  lastProgress: CommandProgress | null;
  poweredOff: boolean;
  /** With a RAID configuration, what apply_configuration reported; else absent. */
  raid?: RaidReport;
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

/** The in-band steps the agent lists, as `interface.step`. */
const offered = (listed: StepsReply) => Object.values(listed.steps).flat().map((s) => `${s.interface}.${s.step}`);

/**
 * Builds the RAID configuration if there is one, writes the image and tears
 * the agent down; throws INGOT_DEPLOYMENT_FAILED naming the command that
 * failed, with the agent's error as `cause`.
 */
export async function driveDeployment(options: DriveDeploymentOptions): Promise<DeploymentReport> {
  const { client, node, ports, log } = options;
  const write = writeImageStep(options.image, node.uuid, options.configdrive ?? null);
  const steps = [...(options.raidConfig ? [applyConfigurationStep(options.raidConfig)] : []), write];
  const fetchSteps = async () => {
    const listed = await client.getDeploySteps(node, ports).catch((error: unknown) => { throw failed('deploy.get_deploy_steps', error); });
    const inBand = offered(listed);
    options.onProgress?.({ type: 'steps', inBand });
    // The conductor's out-of-band write_image shadows the agent's in-band one; an agent without it cannot write images.
    if (!inBand.includes('deploy.write_image')) log.warn({ inBand }, 'the agent lists no write_image deploy step; sending it anyway, as Ironic does');
    // Ironic refuses a deploy template's step the agent does not offer before running any; so does this, before any disk is touched.
    if (options.raidConfig && !inBand.includes(APPLY_CONFIGURATION)) {
      throw failed(APPLY_CONFIGURATION, new IngotError('INGOT_STEP_NOT_FOUND', {
        details: `the agent offers no ${APPLY_CONFIGURATION} deploy step (it lists ${inBand.join(', ') || 'none'}): it cannot build software RAID; nothing was written`,
      }));
    }
    return listed;
  };

  let listed = await fetchSteps();
  let lastProgress: CommandProgress | null = null;
  const results: Array<{ id: string; deployResult: unknown; durationMs: number }> = [];
  for (const [index, step] of steps.entries()) {
    const name = `${step.interface}.${step.step}`;
    options.onProgress?.({ type: 'step-start', step, index, total: steps.length });
    if (step === write) log.info({ image: (step.args as { image_info: { id: string } }).image_info.id, url: options.image.url }, 'writing the image');
    else log.info({ step: name }, 'running the deploy step');
    let final: CommandResult | undefined;
    let started = Date.now();
    // A version mismatch makes Ironic re-fetch the steps and re-run the step (deploy is not restarted), once here.
    for (let round = 1; !final; round++) {
      started = Date.now();
      const ended = await runDeployStep(options, step, listed.hardwareManagerVersion, (progress) => {
        if (step === write) lastProgress = progress ?? lastProgress;
      });
      if (!isMismatch(ended)) {
        final = ended;
        break;
      }
      if (round >= 2) throw failed(`hardware manager versions changed again while deploying (${ended.command_status})`, commandError(ended));
      log.warn({ step: name }, 'hardware manager version mismatch; fetching the deploy steps again');
      listed = await fetchSteps();
    }
    const durationMs = Date.now() - started;
    const deployResult = (final.command_result as { deploy_result?: unknown } | null)?.deploy_result ?? null;
    results.push({ id: final.id, deployResult, durationMs });
    options.onProgress?.({ type: 'step-done', step, index, total: steps.length, durationMs, result: deployResult });
    log.info({ step: name, durationMs, result: deployResult }, step === write ? 'image written' : 'deploy step done');
  }
  // write_image is the last step; apply_configuration, when there is one, the first.
  const { deployResult, durationMs: writeDurationMs } = results.at(-1)!;
  const raid = options.raidConfig
    ? { result: results[0]!.deployResult, durationMs: results[0]!.durationMs, resync: await readResync(options, steps[0]!, results[0]!.id) }
    : undefined;

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
  return {
    deployResult, device: deployedDevice(deployResult), partitionUuids, ...readRootDisk(partitionUuids), writeDurationMs, lastProgress, poweredOff,
    ...(raid ? { raid } : {}),
  };
}

/**
 * Where the arrays' resync stands once the image is written: the agent keeps
 * updating apply_configuration's command_progress after the step ended. One
 * read of the command list, passed on as that step's progress; a failure to
 * read it is logged and fails nothing (the deploy is done).
 */
async function readResync(options: DriveDeploymentOptions, step: StepRequest, id: string): Promise<CommandProgress | null> {
  try {
    const commands = await options.client.getCommandsStatus({ retry: false, signal: options.signal });
    const applied = (id ? commands.find((command) => command.id === id) : undefined)
      ?? commands.findLast((command) => (command.command_result as { deploy_step?: { step?: unknown } } | null)?.deploy_step?.step === step.step);
    const progress = applied?.command_progress ?? null;
    if (progress) options.onProgress?.({ type: 'progress', step, progress });
    return progress;
  } catch (error) {
    options.log.warn({ err: error }, 'could not read the software RAID resync progress; carrying on');
    return null;
  }
}

/** Runs one deploy step through `deploy.execute_deploy_step` and polls it to its end; a version mismatch is returned for the caller to retry. */
async function runDeployStep(
  options: DriveDeploymentOptions, step: StepRequest, version: Record<string, string>, onSample: (p: CommandProgress | null | undefined) => void,
): Promise<CommandResult> {
  const { client, node, ports, signal, log } = options;
  const name = `${step.interface}.${step.step}`;
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
      if (!isIngotError(error, 'INGOT_AGENT_BUSY') || attempt >= 30) throw failed(`${name} could not be started on the agent`, error);
      log.info({ step: name }, 'agent busy; sending the step again shortly');
      await sleep(intervalMs, undefined, { signal });
    }
  }
  const final = started.command_status === 'RUNNING'
    ? await client.waitForCommand('execute_deploy_step', {
      id: started.id || undefined, intervalMs, timeoutMs: options.stepTimeoutMs ?? 3 * 3600_000, signal, onProgress: progress,
    }).catch((error: unknown) => { throw failed(`${name}, while polling its status`, error); })
    : started;
  progress(final);
  if (isMismatch(final)) return final;
  if (final.command_status !== 'SUCCEEDED') {
    const agentError = commandError(final);
    throw failed(`${name} failed on the agent${agentError ? '' : ` (${final.command_status})`}`, agentError);
  }
  // The agent must echo the step it ran (ironic-conductor.md §2, process_next_step).
  const echoed = (final.command_result as { deploy_step?: StepRequest } | null)?.deploy_step;
  if (!echoed || echoed.step !== step.step || (echoed.interface ?? step.interface) !== step.interface) {
    throw failed(`${name}: the agent's result does not echo the step (got ${echoed ? `${echoed.interface}.${echoed.step}` : 'nothing'})`);
  }
  return final;
}
