/**
 * The ramdisk's logs, fetched by the conductor itself before it lets go of the
 * agent, as Ironic does under `[agent]deploy_logs_collect` (ironic-conductor.md
 * §2 "process_next_step", §8): `log.collect_system_logs` while the agent's
 * token is still valid, the archive handed to the caller, and, when a
 * directory is set (Ironic's `[agent]deploy_logs_local_path`), written there
 * under Ironic's file name.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AgentClient } from '../index.ts';

/** Ironic's `deploy_logs_collect` (always, on_failure, never); Ironic's default is on_failure. */
export type CollectLogsPolicy = 'always' | 'on-failure' | 'never';

export const COLLECT_LOGS_POLICIES: readonly CollectLogsPolicy[] = ['always', 'on-failure', 'never'];

/** How the cleaning or deploy whose end triggers the collection went. */
export type RunOutcome = 'success' | 'failure';

export interface RamdiskLogs {
  /** What was ending when the logs were taken. */
  phase: 'clean' | 'deploy';
  outcome: RunOutcome;
  /** ISO 8601 time of the collection (the file name's timestamp). */
  collectedAt: string;
  /** `system_logs` as the agent sent it: base64 of a gzip-compressed tar (ipa-protocol.md §4.2). */
  systemLogs: string;
  /** Size of the archive itself, decoded. */
  bytes: number;
  /** Ironic's name for the archive, whether it was written or not. */
  fileName: string;
  /** Where the archive was written; absent without a directory or when the write failed. */
  path?: string;
}

export function shouldCollectLogs(policy: CollectLogsPolicy, outcome: RunOutcome): boolean {
  return policy === 'always' || (policy === 'on-failure' && outcome === 'failure');
}

export interface RamdiskLogsNameParts {
  nodeUuid: string;
  nodeName?: string;
  instanceUuid?: string;
  /** Ironic labels cleaning's archives 'cleaning' and a deploy's not at all. */
  label?: string;
  at: Date;
}

/** Characters an Ironic node name may hold (RFC 3986 unreserved); anything else could leave the directory. */
const unsafe = /[^A-Za-z0-9._~-]/g;

/**
 * Ironic's `get_ramdisk_logs_file_name` (ironic/drivers/utils.py):
 * `<node uuid>[_<node name>][_<instance uuid>][_<label>]_<UTC %Y-%m-%d-%H-%M-%S>.tar.gz`.
 * Ironic's admin guide documents the older `<node-uuid>[_<instance-uuid>]_<timestamp>`,
 * which this is whenever the node has neither name nor label.
 */
export function ramdiskLogsFileName(parts: RamdiskLogsNameParts): string {
  const stamp = parts.at.toISOString().slice(0, 19).replace('T', '-').replaceAll(':', '-');
  const fields = [parts.nodeUuid, parts.nodeName, parts.instanceUuid, parts.label].filter((field): field is string => Boolean(field));
  return `${[...fields.map((field) => field.replace(unsafe, '-')), stamp].join('_')}.tar.gz`;
}

/** Writes the decoded archive as `dir/fileName`, creating dir as Ironic does; returns the path. */
export async function writeRamdiskLogs(dir: string, fileName: string, archive: Buffer): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, fileName);
  // The journal and the agent's log may carry secrets (IPA even logs its token, ipa-protocol.md §1.8): owner only.
  await writeFile(path, archive, { mode: 0o600 });
  return path;
}

export interface CollectRamdiskLogsOptions {
  /** A client holding the agent's still valid token. */
  client: AgentClient;
  node: { uuid: string; name?: string };
  phase: RamdiskLogs['phase'];
  outcome: RunOutcome;
  /** Write the archive here; without it the archive is only returned. */
  dir?: string;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
}

export type CollectedRamdiskLogs = { logs: RamdiskLogs; error?: undefined } | { logs?: undefined; error: Error };

/**
 * Asks the agent for its logs and stores them. Never throws: like Ironic's
 * `collect_ramdisk_logs`, a failure is logged and must never fail the
 * cleaning or deploy being ended. A failed collection is returned as
 * `error`; a failed write only leaves `path` unset.
 */
export async function collectRamdiskLogs(options: CollectRamdiskLogsOptions): Promise<CollectedRamdiskLogs> {
  const { node, phase, log } = options;
  const at = (options.now ?? (() => new Date()))();
  let systemLogs: string;
  try {
    systemLogs = await options.client.collectSystemLogs({ signal: options.signal });
  } catch (thrown) {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    log.error({ err: error, phase }, 'could not collect the ramdisk logs; carrying on without them');
    return { error };
  }
  const archive = Buffer.from(systemLogs, 'base64');
  const fileName = ramdiskLogsFileName({ nodeUuid: node.uuid, nodeName: node.name, label: phase === 'clean' ? 'cleaning' : undefined, at });
  const logs: RamdiskLogs = { phase, outcome: options.outcome, collectedAt: at.toISOString(), systemLogs, bytes: archive.length, fileName };
  if (options.dir !== undefined) {
    try {
      logs.path = await writeRamdiskLogs(options.dir, fileName, archive);
    } catch (error) {
      log.error({ err: error, dir: options.dir, fileName }, 'could not store the ramdisk logs; they are only in the report');
    }
  }
  log.info({ phase, bytes: logs.bytes, path: logs.path }, 'ramdisk logs collected');
  return { logs };
}
