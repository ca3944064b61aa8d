/**
 * How the client reads an agent's replies, as Ironic's AgentClient does
 * (ironic-conductor.md §1, "The agent's reply, as Ironic reads it").
 */
import {
  IngotError, commandStatuses, errorCodes, parseCommandError, parseFault,
  type CommandResult, type IngotErrorOptions, type StepDescription,
} from '@ingot/protocol';

/** The agent is running another command (HTTP 409 or "agent is busy"); try again later. */
export class AgentBusyError extends IngotError {
  constructor(options: IngotErrorOptions = {}) {
    super('INGOT_AGENT_BUSY', options);
    this.name = 'AgentBusyError';
  }
}

/** The short name Ironic compares: `clean.execute_clean_step` → `execute_clean_step`. */
export function bareCommandName(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot === -1 ? name : name.slice(dot + 1);
}

const invalidReply = (details: string) => new IngotError('INGOT_AGENT_API_ERROR', { details: `Invalid agent response: ${details}` });

/** Checks one command result's shape; `command_error` must be present, null when fine. */
export function parseCommandResult(body: unknown): CommandResult {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidReply('not an object');
  const record = body as Record<string, unknown>;
  if (typeof record.command_name !== 'string') throw invalidReply('no command_name');
  if (!(commandStatuses as readonly unknown[]).includes(record.command_status)) {
    throw invalidReply(`unknown command_status ${JSON.stringify(record.command_status)}`);
  }
  if (!('command_error' in record)) throw invalidReply('no command_error');
  const error = record.command_error as Record<string, unknown> | null;
  // Ironic treats a TypeError as incompatible parameters: a bug to surface now, not a step failure.
  if (record.command_status === 'FAILED' && error && typeof error === 'object' && error.type === 'TypeError') {
    throw new IngotError('INGOT_AGENT_API_ERROR', { details: `agent rejected the parameters of ${record.command_name}: ${String(error.details ?? error.message ?? '')}` });
  }
  return { ...record, command_name: record.command_name, id: String(record.id ?? '') } as CommandResult;
}

/** Reads `{"commands": [...]}`, oldest first. */
export function parseCommandList(body: unknown): CommandResult[] {
  const commands = (body as { commands?: unknown } | null)?.commands;
  if (!Array.isArray(commands)) throw invalidReply('no "commands" list');
  return commands.map((entry) => parseCommandResult(entry));
}

/** The agent's error as an IngotError, or undefined when the command did not fail. */
export function commandError(result: CommandResult): IngotError | undefined {
  if (result.command_status === 'SUCCEEDED' || result.command_status === 'RUNNING') return undefined;
  return parseCommandError(result.command_error)
    ?? new IngotError('INGOT_COMMAND_FAILED', { details: `${result.command_name} ended ${result.command_status} without an error` });
}

/** Throws the agent's error unless the command SUCCEEDED. */
export function expectSucceeded(result: CommandResult): CommandResult {
  if (result.command_status === 'SUCCEEDED') return result;
  if (result.command_status === 'RUNNING') throw new IngotError('INGOT_AGENT_API_ERROR', { details: `${result.command_name} is still running` });
  throw commandError(result);
}

/** Maps an HTTP status of 400 or more: busy first, as Ironic does, then the agent's fault. */
export function httpError(status: number, body: unknown, where: string): IngotError {
  const faultstring = (body as { faultstring?: unknown } | null)?.faultstring;
  if (status === 409 || (typeof faultstring === 'string' && /agent is busy/i.test(faultstring))) {
    return new AgentBusyError({ details: typeof faultstring === 'string' ? faultstring : where, status });
  }
  const fault = parseFault(status, body);
  // Ingot's agent renders a fault as "<the code's message>: <details>"; the error built here says that message again first, so it is said once.
  const prefix = `${errorCodes[fault.code].message}: `;
  const details = fault.details.startsWith(prefix) ? fault.details.slice(prefix.length) : fault.details;
  return new IngotError(fault.code, { details: `${where}: ${details}`, status });
}

/** What get_clean_steps / get_deploy_steps / get_service_steps answer. */
export interface StepsReply {
  /** Hardware manager name → its steps. */
  steps: Record<string, StepDescription[]>;
  /** Send back as clean_version / deploy_version / service_version. */
  hardwareManagerVersion: Record<string, string>;
}

export function parseStepsReply(result: CommandResult, kind: 'clean' | 'deploy' | 'service'): StepsReply {
  const body = result.command_result as Record<string, unknown> | null;
  const steps = body?.[`${kind}_steps`];
  const version = body?.hardware_manager_version;
  if (!steps || typeof steps !== 'object' || !version || typeof version !== 'object') {
    throw invalidReply(`get_${kind}_steps did not return ${kind}_steps and hardware_manager_version`);
  }
  for (const [manager, list] of Object.entries(steps)) {
    if (!Array.isArray(list) || !list.every((s) => typeof s?.step === 'string' && typeof s?.priority === 'number' && typeof s?.interface === 'string')) {
      throw invalidReply(`steps of ${manager} need step, interface and priority`);
    }
  }
  return { steps: steps as Record<string, StepDescription[]>, hardwareManagerVersion: version as Record<string, string> };
}
