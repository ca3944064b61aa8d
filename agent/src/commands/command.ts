import type { Logger } from 'pino';
import type { CommandProgress } from '@ingot/protocol';

/** What a running command receives besides its parameters. */
export interface CommandContext {
  log: Logger;
  /** Aborted when the agent resets or stops, or when a `whileBusy` command aborts this one (CommandRunner.abortRunning). */
  signal: AbortSignal;
  progress(progress: CommandProgress): void;
  /**
   * Aborts the command running now if `accept` takes it (by its full name,
   * `snapshot.capture`, and its parameters): its signal fires with `reason`.
   * Returns the full name of the command aborted, or null when none was.
   * Only a `whileBusy` command can find another one running.
   */
  abortRunning(reason: Error, accept: (command: { name: string; params: Record<string, unknown> }) => boolean): string | null;
}

/**
 * One command of an extension (`clean.get_clean_steps`). Sync commands run
 * inside the request (Ironic gives them 60 s); async ones in the background,
 * returning RUNNING at once (reference 1.6).
 */
export interface CommandDefinition {
  name: string;
  mode: 'sync' | 'async';
  /**
   * Runs while another command runs, instead of 409 busy (IPA's rule for
   * everything else): for commands that act on the running one, such as
   * `snapshot.abort`. Sync commands only, so two of them never overlap long.
   */
  whileBusy?: boolean;
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
