import type { Logger } from 'pino';
import type { CommandProgress } from '@ingot/protocol';

/** What a running command receives besides its parameters. */
export interface CommandContext {
  log: Logger;
  /** Aborted when the agent resets or stops. */
  signal: AbortSignal;
  progress(progress: CommandProgress): void;
}

/**
 * One command of an extension (`clean.get_clean_steps`). Sync commands run
 * inside the request (Ironic gives them 60 s); async ones in the background,
 * returning RUNNING at once (reference 1.6).
 */
export interface CommandDefinition {
  name: string;
  mode: 'sync' | 'async';
  /** Runs in the request before anything starts; throws INGOT_INVALID_PARAMS (400). */
  validate?(params: Record<string, unknown>): void | Promise<void>;
  run(params: Record<string, unknown>, ctx: CommandContext): Promise<unknown>;
}

export interface Extension {
  name: string;
  commands: readonly CommandDefinition[];
}

export function defineExtension(name: string, commands: readonly CommandDefinition[]): Extension {
  return { name, commands };
}
