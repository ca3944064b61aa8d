/**
 * Automated cleaning as Ironic runs it (ironic-conductor.md §2 "Heartbeat
 * processing", §6a), driven by polling instead of heartbeats: list the steps,
 * run those with priority > 0 highest first, each to completion.
 * Built only on the package's public API.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { IngotError, isIngotError, type CommandProgress, type CommandResult, type NodeInfo, type StepDescription, type StepRequest } from '@ingot/protocol';
import { commandError, type AgentClient } from '../index.ts';

export type CleaningProgress =
  | { type: 'steps'; steps: StepRequest[] }
  | { type: 'step-start'; step: StepRequest; index: number; total: number }
  | { type: 'progress'; step: StepRequest; progress: CommandProgress | null | undefined }
  | { type: 'step-done'; step: StepRequest; index: number; total: number; durationMs: number; result: unknown };

export interface DriveCleaningOptions {
  client: AgentClient;
  node: NodeInfo;
  ports: unknown[];
  log: Logger;
  onProgress?: (event: CleaningProgress) => void;
  signal?: AbortSignal;
  /** Between polls of a running step; Ironic's command_wait_interval is 6 s. Default 2000. */
  pollIntervalMs?: number;
  /** Longest a single step may run. Default 3 hours (erasing large disks). */
  stepTimeoutMs?: number;
}

export interface CleaningReport {
  steps: Array<{ step: string; interface: string; priority: number; durationMs: number; result: unknown }>;
}

/** `details` says where, the cause why (never copied into the message: readers of the chain append it). */
const failed = (details: string, cause?: unknown) => new IngotError('INGOT_CLEANING_FAILED', { details, cause });
const isMismatch = (result: CommandResult) => result.command_status === 'CLEAN_VERSION_MISMATCH' || result.command_status === 'VERSION_MISMATCH';
const label = (step: StepRequest) => `${step.interface ?? '?'}.${step.step}`;

/** Flattens manager → steps, keeps priority > 0, highest first (ties by interface then name, for a stable order). */
export function orderCleanSteps(byManager: Record<string, StepDescription[]>): StepRequest[] {
  return Object.values(byManager).flat()
    .filter((step) => step.priority > 0)
    .map((step) => ({ ...step, requires_ramdisk: true }))
    .sort((a, b) => b.priority - a.priority || a.interface.localeCompare(b.interface) || a.step.localeCompare(b.step));
}

class VersionMismatch extends Error {
  constructor(readonly agentError: Error | undefined) {
    super('version mismatch');
  }
}

/** Runs every automated clean step; throws INGOT_CLEANING_FAILED (with the agent's error as cause) on failure. */
export async function driveCleaning(options: DriveCleaningOptions): Promise<CleaningReport> {
  for (let round = 1; ; round++) {
    try {
      return await runAllSteps(options);
    } catch (error) {
      // Automated cleaning restarts from scratch after a version mismatch, once here.
      if (!(error instanceof VersionMismatch)) throw error;
      if (round >= 2) throw failed('hardware manager versions changed again while cleaning', error.agentError);
      options.log.warn({ reason: error.agentError?.message }, 'hardware manager version mismatch; fetching the steps again');
    }
  }
}

async function runAllSteps(options: DriveCleaningOptions): Promise<CleaningReport> {
  const { client, node, ports, log, signal } = options;
  const listed = await client.getCleanSteps(node, ports).catch((error: unknown) => { throw failed('clean.get_clean_steps', error); });
  const steps = orderCleanSteps(listed.steps);
  options.onProgress?.({ type: 'steps', steps });
  log.info({ steps: steps.map(label) }, 'clean steps to run');
  const report: CleaningReport = { steps: [] };
  for (const [index, step] of steps.entries()) {
    signal?.throwIfAborted();
    const stepLog = log.child({ step: step.step, interface: step.interface });
    options.onProgress?.({ type: 'step-start', step, index, total: steps.length });
    const started = Date.now();
    const result = await runStep(options, step, listed.hardwareManagerVersion, stepLog);
    const durationMs = Date.now() - started;
    const cleanResult = (result.command_result as { clean_result?: unknown } | null)?.clean_result ?? null;
    report.steps.push({ step: step.step, interface: step.interface ?? '', priority: step.priority ?? 0, durationMs, result: cleanResult });
    options.onProgress?.({ type: 'step-done', step, index, total: steps.length, durationMs, result: cleanResult });
    stepLog.info({ durationMs }, 'clean step done');
    if (step.reboot_requested) {
      throw failed(`${label(step)} requests a reboot, which needs an out-of-band power interface this driver does not have`);
    }
  }
  return report;
}

async function runStep(options: DriveCleaningOptions, step: StepRequest, version: Record<string, string>, log: Logger): Promise<CommandResult> {
  const { client, node, ports, signal } = options;
  const intervalMs = options.pollIntervalMs ?? 2000;
  let started: CommandResult | undefined;
  // A busy agent (409) is still finishing something: wait and retry, as Ironic does on the next heartbeat.
  for (let attempt = 1; !started; attempt++) {
    try {
      started = await client.executeCleanStep(step, node, ports, version);
    } catch (error) {
      if (!isIngotError(error, 'INGOT_AGENT_BUSY') || attempt >= 30) throw failed(`${label(step)} could not be started on the agent`, error);
      log.info('agent busy; retrying the step shortly');
      await sleep(intervalMs, undefined, { signal });
    }
  }
  const final = started.command_status === 'RUNNING'
    ? await client.waitForCommand('execute_clean_step', {
      id: started.id || undefined, intervalMs, timeoutMs: options.stepTimeoutMs ?? 3 * 3600_000, signal,
      onProgress: (running) => options.onProgress?.({ type: 'progress', step, progress: running?.command_progress }),
    }).catch((error: unknown) => { throw failed(`${label(step)}, while polling its status`, error); })
    : started;
  if (isMismatch(final)) throw new VersionMismatch(commandError(final));
  if (final.command_status !== 'SUCCEEDED') {
    const agentError = commandError(final);
    throw failed(`${label(step)} failed on the agent${agentError ? '' : ` (${final.command_status})`}`, agentError);
  }
  // The agent must echo the step it ran (ironic-conductor.md §2, process_next_step).
  const echoed = (final.command_result as { clean_step?: StepRequest } | null)?.clean_step;
  if (!echoed || echoed.step !== step.step || (echoed.interface ?? step.interface) !== step.interface) {
    throw failed(`${label(step)}: the agent's result does not echo the step (got ${echoed ? label(echoed) : 'nothing'})`);
  }
  return final;
}
