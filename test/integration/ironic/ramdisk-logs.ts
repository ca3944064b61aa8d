import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The archives Ironic stored for a node under `[agent]deploy_logs_local_path`
 * (storage backend `local`). drivers/utils.py names them
 * `<node uuid>[_<node name>][_<instance uuid>][_<label>]_<YYYY-mm-dd-HH-MM-SS>.tar.gz`,
 * the label being `cleaning` for a failed clean step and none for a deploy step.
 */
export async function listStoredRamdiskLogs(deployLogsPath: string, nodeUuid: string): Promise<string[]> {
  const names = await readdir(deployLogsPath).catch(() => [] as string[]);
  return names
    .filter((name) => name.startsWith(`${nodeUuid}_`) && name.endsWith('.tar.gz'))
    .sort()
    .map((name) => path.join(deployLogsPath, name));
}

export interface RamdiskLogArchive {
  /** Member names as GNU tar lists them. */
  entries: string[];
  /** The text of every regular member, by name. */
  texts: Map<string, string>;
}

/**
 * Opens an archive with the host's own gzip and GNU tar, not with the
 * library the agent packed it with: `gzip --test` checks the compressed
 * stream and its CRC, `tar` that the members are well-formed. Throws,
 * naming the tool's complaint, when either refuses it.
 */
export async function readRamdiskLogArchive(file: string): Promise<RamdiskLogArchive> {
  await runTool('gzip', ['--test', file]);
  const listing = await runTool('tar', ['--list', '--gzip', '--file', file]);
  const entries = listing.split('\n').filter((line) => line !== '');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ingot-ramdisk-logs-'));
  try {
    // --no-same-owner/--no-same-permissions: extracted as plain files of this user, whatever the archive says.
    await runTool('tar', ['--extract', '--gzip', '--file', file, '--directory', dir, '--no-same-owner', '--no-same-permissions']);
    const texts = new Map<string, string>();
    for (const entry of entries) {
      if (entry.endsWith('/')) continue;
      texts.set(entry, await readFile(path.join(dir, entry), 'utf8'));
    }
    return { entries, texts };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runTool(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`${command} ${args.join(' ')} refused the archive: ${stderr || (error as Error).message}`, { cause: error });
  }
}
