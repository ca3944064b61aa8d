import type { Logger } from 'pino';
import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import { keepTail, type TextOrigin } from './bounded-text.ts';
import { listLogFiles, readFileTail } from './read-log-files.ts';
import { scrubSecrets } from './scrub-secrets.ts';
import { packTarGzip, type ArchiveEntry } from './tar-gzip.ts';

export interface SystemLogLimits {
  /** Bytes kept of any one entry (its newest part). */
  entryBytes: number;
  /** Bytes of all entries together, before compression; later entries are cut or replaced by a note. */
  totalBytes: number;
}

/** 1 MiB an entry and 16 MiB in all keep the in-memory archive (and its base64 copy) far from a ramdisk's RAM. */
export const defaultSystemLogLimits: SystemLogLimits = { entryBytes: 1024 * 1024, totalBytes: 16 * 1024 * 1024 };

export interface CollectSystemLogsOptions {
  system: System;
  log: Logger;
  /** More files to include, each under its own path. */
  extraFiles?: string[];
  /** The agent's own log file (already redacted by the logger). */
  agentLogPath?: string;
  limits?: Partial<SystemLogLimits>;
  /**
   * Outside the ramdisk: the disks the agent was given. The host's journal,
   * /var/log and system-wide command outputs are not the simulated machine's
   * and are left out; lsblk covers only these disks.
   */
  sandboxDisks?: readonly string[];
}

/**
 * Command outputs named as IPA's generic manager names them (4.2). A missing
 * or failing tool leaves its error text in the entry instead of failing the
 * collection: a partial archive is what an operator debugging a node needs.
 */
const commandEntries: ReadonlyArray<{ name: string; argv: readonly string[] }> = [
  { name: 'df', argv: ['df', '-a'] },
  { name: 'dmesg', argv: ['dmesg'] },
  { name: 'ip_addr', argv: ['ip', 'addr'] },
  { name: 'lsblk', argv: ['lsblk', '--all', '--output-all'] },
  { name: 'mount', argv: ['mount'] },
  { name: 'ps', argv: ['ps', 'aux'] },
];

/**
 * The current boot's journal. `--lines` bounds what journalctl prints,
 * because the System seam buffers a tool's whole output: 20,000 lines of
 * about 100 bytes already exceed the entry cap, whose newest part is kept.
 */
export const journalArgv = ['journalctl', '--full', '--no-pager', '-b', '--lines=20000'] as const;

const commandTimeoutMs = 60_000;

/**
 * `log.collect_system_logs`: a gzipped tar of the journal (or /var/log), the
 * agent's log, the given files and diagnostic command outputs, base64-encoded
 * (4.2). Every text entry is scrubbed of `agent_token` values and capped.
 */
export async function collectSystemLogs(options: CollectSystemLogsOptions): Promise<{ system_logs: string }> {
  const { system, log } = options;
  const limits = { ...defaultSystemLogLimits, ...options.limits };
  const entries: ArchiveEntry[] = [];
  let used = 0;
  const add = (name: string, text: string, origin?: TextOrigin): void => {
    if (entries.some((entry) => entry.name === name)) return;
    const remaining = limits.totalBytes - used;
    const bounded = keepTail(scrubSecrets(text), Math.min(limits.entryBytes, remaining), origin);
    const final = remaining <= 0 ? `[ingot: omitted, the archive reached its ${limits.totalBytes}-byte cap]\n` : bounded.text;
    if (bounded.truncated) log.debug({ entry: name }, 'system log entry truncated to its size cap');
    const data = Buffer.from(final, 'utf8');
    used += data.length;
    entries.push({ name, data });
  };
  const addFile = async (path: string): Promise<void> => {
    try {
      const tail = await readFileTail(system, path, limits.entryBytes);
      add(archiveName(path), tail.text, tail.origin);
    } catch (error) {
      add(archiveName(path), `[ingot: could not read ${path}: ${errorText(error)}]\n`);
    }
  };

  const finish = async () => {
    const archive = await packTarGzip(entries);
    log.info({ entries: entries.length, bytes: used, archiveBytes: archive.length }, 'collected system logs');
    return { system_logs: archive.toString('base64') };
  };

  try {
    if (options.sandboxDisks) {
      const blockDevices = options.sandboxDisks.filter((disk) => disk.startsWith('/dev/'));
      add('sandbox', `Collected in sandbox mode: only the agent's own log and its given disks (${options.sandboxDisks.join(', ') || 'none'}) are included; the host's logs are not the simulated machine's.\n`);
      if (blockDevices.length > 0) add('lsblk', await runForLog(system, ['lsblk', '--all', '--output-all', ...blockDevices]));
      if (options.agentLogPath) await addFile(options.agentLogPath);
      for (const path of options.extraFiles ?? []) await addFile(path);
      return await finish();
    }
    for (const { name, argv } of commandEntries) add(name, await runForLog(system, argv));
    add('mdstat', await readForLog(system, '/proc/mdstat'));
    if (options.agentLogPath) await addFile(options.agentLogPath);
    for (const path of options.extraFiles ?? []) await addFile(path);

    const journal = await readJournal(system, log);
    if (journal !== null) {
      add('journal', journal);
    } else {
      for (const path of await listLogFiles(system, '/var/log', { maxDepth: 4, maxFiles: 500 })) {
        try {
          const tail = await readFileTail(system, path, limits.entryBytes);
          // A NUL byte marks a binary file whatever its name; skip it like an unreadable one.
          if (!tail.text.includes('\u0000')) add(archiveName(path), tail.text, tail.origin);
        } catch (error) {
          log.debug({ err: error, path }, 'skipping unreadable log file');
        }
      }
    }
    return await finish();
  } catch (error) {
    throw new IngotError('INGOT_LOGS_FAILED', { details: errorText(error), cause: error });
  }
}

/** Null when journalctl is missing or fails, so the caller falls back to /var/log as IPA does. */
async function readJournal(system: System, log: Logger): Promise<string | null> {
  if (!(await system.hasTool('journalctl'))) return null;
  try {
    return (await system.run(journalArgv, { timeoutMs: commandTimeoutMs })).stdout;
  } catch (error) {
    log.warn({ err: error }, 'journalctl failed; collecting /var/log instead');
    return null;
  }
}

async function runForLog(system: System, argv: readonly string[]): Promise<string> {
  try {
    const result = await system.run(argv, { allowFailure: true, timeoutMs: commandTimeoutMs });
    if (result.exitCode === 0) return result.stdout;
    return `${result.stdout}\n[ingot: ${argv.join(' ')} exited with ${result.exitCode}]\n${result.stderr}`;
  } catch (error) {
    return `[ingot: could not run ${argv.join(' ')}: ${errorText(error)}]\n`;
  }
}

async function readForLog(system: System, path: string): Promise<string> {
  try {
    return await system.readText(path);
  } catch (error) {
    return `[ingot: could not read ${path}: ${errorText(error)}]\n`;
  }
}

/** Tar paths are relative: `/var/log/syslog` is stored as `var/log/syslog`. */
function archiveName(path: string): string {
  return path.replace(/^\/+/, '');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
