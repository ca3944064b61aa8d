import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { IngotError, renderCommandError, toIngotError, type CommandProgress, type CommandResult, type CommandStatus } from '@ingot/protocol';
import type { CommandDefinition, Extension } from './command.ts';

/** Progress is logged at most this often per command, never per chunk. */
const PROGRESS_LOG_INTERVAL_MS = 5_000;

interface CommandRecord {
  id: string;
  name: string;
  /** `<extension>.<name>`, as requested. */
  fullName: string;
  params: Record<string, unknown>;
  /** Aborts this command alone (CommandContext.abortRunning); the reset aborts all. */
  aborter: AbortController;
  status: CommandStatus;
  error: IngotError | null;
  result: unknown;
  progress: CommandProgress | null;
  done: Promise<void>;
}

export interface CommandRunnerEvents {
  /** An async command ended: the agent sends an early heartbeat (1.6). */
  'async-finished': [result: CommandResult];
}

export interface CommandRunner extends EventEmitter<CommandRunnerEvents> {
  execute(name: string, params: unknown, options?: { wait?: boolean; waitLimitMs?: number }): Promise<CommandResult>;
  list(): CommandResult[];
  get(id: string): CommandResult;
  /** Waits until the command ends or `limitMs` passes, then returns its current result. */
  wait(id: string, limitMs: number): Promise<CommandResult>;
  /** Forgets every result and aborts what runs: the agent behaves as freshly booted. */
  reset(): void;
  /** Aborts the running command if `accept` takes it; returns its full name, or null when none was aborted. */
  abortRunning(reason: Error, accept?: (command: { name: string; params: Record<string, unknown> }) => boolean): string | null;
  isBusy(): boolean;
}

export function createCommandRunner(options: { extensions: readonly Extension[]; log: Logger; historyLimit?: number }): CommandRunner {
  const { log } = options;
  const historyLimit = options.historyLimit ?? 200;
  const extensions = new Map(options.extensions.map((extension) => [extension.name, new Map(extension.commands.map((c) => [c.name, c]))]));
  for (const extension of options.extensions) {
    const overlapping = extension.commands.find((c) => c.whileBusy && c.mode !== 'sync');
    if (overlapping) throw new Error(`${extension.name}.${overlapping.name}: only sync commands may run while another runs (whileBusy)`);
  }
  let records: CommandRecord[] = [];
  let aborter = new AbortController();
  const emitter = new EventEmitter<CommandRunnerEvents>();

  const serialize = (record: CommandRecord): CommandResult => ({
    id: record.id,
    command_name: record.name,
    command_status: record.status,
    command_error: record.error ? renderCommandError(record.error) : null,
    command_result: record.result ?? null,
    command_progress: record.progress,
  });

  const resolve = (name: string): CommandDefinition => {
    const dot = name.indexOf('.');
    if (dot <= 0 || dot === name.length - 1) {
      throw new IngotError('INGOT_INVALID_COMMAND', { details: 'Command name must be of the form <extension>.<name>' });
    }
    const extensionName = name.slice(0, dot);
    const extension = extensions.get(extensionName);
    if (!extension) throw new IngotError('INGOT_EXTENSION_NOT_FOUND', { details: `Extension with id ${extensionName} not found.` });
    const command = extension.get(name.slice(dot + 1));
    if (!command) throw new IngotError('INGOT_INVALID_COMMAND', { details: `Unknown command: ${name}` });
    return command;
  };

  const isWhileBusy = (name: string): boolean => {
    try {
      return resolve(name).whileBusy === true;
    } catch {
      return false;
    }
  };

  const trimHistory = () => {
    while (records.length > historyLimit) {
      const index = records.findIndex((record) => record.status !== 'RUNNING');
      if (index < 0) break;
      records.splice(index, 1);
    }
  };

  /** The command running now, if any, other than `self` (a whileBusy command's own record comes after the one it acts on). */
  const running = (self?: CommandRecord): CommandRecord | undefined => records.findLast((record) => record.status === 'RUNNING' && record !== self);

  const abortRunning = (reason: Error, accept: (command: { name: string; params: Record<string, unknown> }) => boolean = () => true, self?: CommandRecord): string | null => {
    const record = running(self);
    if (!record || record.aborter.signal.aborted || !accept({ name: record.fullName, params: record.params })) return null;
    log.warn({ cmd: record.name, cmdId: record.id, reason: reason.message }, 'aborting the running command');
    record.aborter.abort(reason);
    return record.fullName;
  };

  const start = (command: CommandDefinition, fullName: string, params: Record<string, unknown>): CommandRecord => {
    const id = randomUUID();
    const commandLog = log.child({ cmd: command.name, cmdId: id });
    const own = new AbortController();
    const resetSignal = aborter.signal;
    const signal = AbortSignal.any([resetSignal, own.signal]);
    let lastProgressLog = 0;
    const record: CommandRecord = { id, name: command.name, fullName, params, aborter: own, status: 'RUNNING', error: null, result: null, progress: null, done: Promise.resolve() };
    const ctx = {
      log: commandLog,
      signal,
      abortRunning: (reason: Error, accept: (command: { name: string; params: Record<string, unknown> }) => boolean) => abortRunning(reason, accept, record),
      progress(progress: CommandProgress) {
        record.progress = progress;
        const now = Date.now();
        if (now - lastProgressLog >= PROGRESS_LOG_INTERVAL_MS) {
          lastProgressLog = now;
          commandLog.info({ progress }, 'progress');
        }
      },
    };
    commandLog.info({ mode: command.mode }, 'command started');
    record.done = (async () => {
      try {
        const value = await command.run(params, ctx);
        record.result = typeof value === 'string' || Buffer.isBuffer(value)
          ? { result: command.mode === 'async' ? `${command.name}: ${String(value)}` : String(value) }
          : value ?? null;
        record.status = 'SUCCEEDED';
        commandLog.info('command succeeded');
      } catch (error) {
        const failure = toIngotError(error, 'INGOT_COMMAND_FAILED');
        record.error = failure;
        record.status = failure.code === 'INGOT_VERSION_MISMATCH' ? 'CLEAN_VERSION_MISMATCH' : 'FAILED';
        commandLog.error({ err: failure }, 'command failed');
      }
      // After a reset nobody waits for it; a command aborted alone still ended, and the conductor hears of it early.
      if (command.mode === 'async' && !resetSignal.aborted) emitter.emit('async-finished', serialize(record));
    })();
    records.push(record);
    trimHistory();
    return record;
  };

  const find = (id: string): CommandRecord => {
    const record = records.find((candidate) => candidate.id === id);
    if (!record) throw new IngotError('INGOT_COMMAND_NOT_FOUND', { details: `Command Result with id ${id} not found.` });
    return record;
  };

  const waitFor = async (record: CommandRecord, limitMs: number) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([record.done, new Promise<void>((resolveTimer) => { timer = setTimeout(resolveTimer, limitMs); })]);
    clearTimeout(timer);
    return serialize(record);
  };

  return Object.assign(emitter, {
    async execute(name: string, params: unknown, executeOptions: { wait?: boolean; waitLimitMs?: number } = {}) {
      // The busy check comes first, before the name is even resolved (1.6), but for the few commands made to act on a running one.
      const last = running();
      const command = last?.status === 'RUNNING' && !(typeof name === 'string' && isWhileBusy(name)) ? undefined : resolve(name);
      if (!command) throw new IngotError('INGOT_AGENT_BUSY', { details: `executing command ${last!.name}` });
      if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        throw new IngotError('INGOT_BAD_REQUEST', { details: 'Missing or invalid name or params' });
      }
      await command.validate?.(params as Record<string, unknown>);
      // A validation that read the disks took time: another command may have started meanwhile.
      const started = running();
      if (!command.whileBusy && started) throw new IngotError('INGOT_AGENT_BUSY', { details: `executing command ${started.name}` });
      const record = start(command, name, params as Record<string, unknown>);
      if (command.mode === 'sync') {
        await record.done;
        return serialize(record);
      }
      if (executeOptions.wait) return waitFor(record, executeOptions.waitLimitMs ?? 50_000);
      return serialize(record);
    },
    list: () => records.map(serialize),
    get: (id: string) => serialize(find(id)),
    wait: (id: string, limitMs: number) => waitFor(find(id), limitMs),
    reset() {
      aborter.abort(new IngotError('INGOT_COMMAND_FAILED', { details: 'the agent was reset' }));
      aborter = new AbortController();
      records = [];
    },
    abortRunning,
    isBusy: () => running() !== undefined,
  });
}
