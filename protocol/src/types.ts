/** Wire types of the IPA agent API (reference ipa-protocol.md sections 1 to 5). */
import type { CommandErrorBody } from './errors.ts';

export const commandStatuses = ['RUNNING', 'SUCCEEDED', 'FAILED', 'CLEAN_VERSION_MISMATCH', 'VERSION_MISMATCH'] as const;
export type CommandStatus = (typeof commandStatuses)[number];

/** One entry of `GET /v1/commands/` (1.4). `command_params` is not serialized by IPA. */
export interface CommandResult {
  id: string;
  /** The short name (`execute_clean_step`), never the dotted one. */
  command_name: string;
  command_status: CommandStatus;
  command_error: CommandErrorBody | null;
  command_result: unknown;
  /** Ingot extension: progress of a long-running command. */
  command_progress?: CommandProgress | null;
}

/** Ingot extension: what a running command has done so far. */
export interface CommandProgress {
  /** A short phrase: "erasing metadata", "writing image". */
  stage: string;
  done?: number;
  total?: number;
  /** Unit of done/total, e.g. "bytes" or "devices". */
  unit?: string;
  message?: string;
  /**
   * Ingot's extension: one entry per thing a command follows at once, e.g.
   * each software RAID array's resync, in the same shape.
   */
  items?: CommandProgressItem[];
}

/** One of several things a command's progress follows (`CommandProgress.items`). */
export interface CommandProgressItem {
  /** What it is: `/dev/md0 (root)`. */
  name: string;
  stage: string;
  done?: number;
  total?: number;
  unit?: string;
  message?: string;
}

export interface CommandRequest {
  name: string;
  params: Record<string, unknown>;
}

export type StepKind = 'clean' | 'deploy' | 'service';

/** A step as listed by get_*_steps (5.4). */
export interface StepDescription {
  step: string;
  priority: number;
  interface: string;
  reboot_requested: boolean;
  abortable?: boolean;
  argsinfo?: Record<string, { description: string; required: boolean }> | null;
}

/** A step as sent back by the conductor to execute_*_step. */
export interface StepRequest {
  step: string;
  interface?: string;
  priority?: number;
  args?: Record<string, unknown>;
  reboot_requested?: boolean;
  abortable?: boolean;
  requires_ramdisk?: boolean;
  [key: string]: unknown;
}

/** The node as the conductor sends it (the lookup gives a subset). */
export interface NodeInfo {
  uuid: string;
  properties?: Record<string, unknown>;
  instance_info?: Record<string, unknown>;
  driver_info?: Record<string, unknown>;
  driver_internal_info?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface LookupConfig {
  heartbeat_timeout: number;
  agent_token?: string | null;
  agent_token_required?: boolean;
  agent_md5_checksum_enable?: boolean | null;
  tls_min_version?: string | null;
  [key: string]: unknown;
}

export interface LookupResponse {
  node: NodeInfo;
  config: LookupConfig;
}

export interface HeartbeatRequest {
  callback_url: string;
  agent_token?: string | null;
  agent_version?: string;
  agent_verify_ca?: string;
}

/** The token placeholder the conductor sends once the token has been issued (section 3). */
export const REDACTED_TOKEN = '******';

/** Ironic API microversions that gate agent features (2.2). */
export const apiVersions = {
  min: '1.31',
  agentVersion: '1.36',
  agentToken: '1.62',
  agentVerifyCa: '1.68',
  maxKnown: '1.68',
} as const;

/** Parses "1.68" into a comparable number pair. */
export function parseApiVersion(value: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(value.trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function compareApiVersions(a: string, b: string): number {
  const [am, an] = parseApiVersion(a) ?? [0, 0];
  const [bm, bn] = parseApiVersion(b) ?? [0, 0];
  return am - bm || an - bn;
}

export function minApiVersion(a: string, b: string): string {
  return compareApiVersions(a, b) <= 0 ? a : b;
}

export const API_VERSION_HEADER = 'X-OpenStack-Ironic-API-Version';
