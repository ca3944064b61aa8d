import { describeInput, IngotError, type LookupConfig, type LookupResponse } from '@ingot/protocol';

/** Ironic's `[api]ramdisk_heartbeat_timeout` default, used when the reply gives none that is usable (2.3). */
export const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS = 300;

/** The node fields the agent reads as dicts (root device hints, the image's instance_info...). */
const dictFields = ['properties', 'instance_info', 'driver_info', 'driver_internal_info'] as const;

const isDict = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The heartbeat base in seconds: a positive number (or its decimal text, as
 * Python's int() reads it) of at least 1. Anything else would make the
 * heartbeater pulse with every reply (a negative or tiny value, found by
 * fuzzing: `Number(-300) || 300` is -300) or never (NaN): the default then.
 */
function heartbeatTimeout(value: unknown): { seconds: number; usable: boolean } {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  return Number.isFinite(number) && number >= 1 ? { seconds: number, usable: true } : { seconds: DEFAULT_HEARTBEAT_TIMEOUT_SECONDS, usable: false };
}

/**
 * Reads the lookup's 200 body (ipa-protocol.md 2.3): `node` with a non-empty
 * `uuid` and, when present, dicts where the agent expects dicts; `config` an
 * object, or the legacy top-level `heartbeat_timeout`. `where` names the URL
 * in errors. Throws INGOT_LOOKUP_FAILED (retried by lookupNode) naming the
 * field; never repeats the body, which carries the token.
 */
export function parseLookupReply(body: unknown, where: string): { reply: LookupResponse; heartbeatTimeoutGiven: unknown; heartbeatTimeoutUsable: boolean } {
  const fail = (details: string) => new IngotError('INGOT_LOOKUP_FAILED', { details: `${where} answered ${details}` });
  if (!isDict(body)) throw fail(`with ${describeInput(body, { secret: true })} instead of a JSON object`);
  const node = body.node;
  if (!isDict(node) || typeof node.uuid !== 'string' || node.uuid.trim() === '') throw fail('without node.uuid');
  for (const field of dictFields) {
    if (node[field] !== undefined && node[field] !== null && !isDict(node[field])) throw fail(`with node.${field} not an object`);
  }
  // Legacy bodies carry heartbeat_timeout at the top level instead of a config object (2.3).
  const given = isDict(body.config) ? body.config : {};
  const heartbeatTimeoutGiven = isDict(body.config) ? body.config.heartbeat_timeout : body.heartbeat_timeout;
  const timeout = heartbeatTimeout(heartbeatTimeoutGiven);
  const config: LookupConfig = { ...given, heartbeat_timeout: timeout.seconds };
  return { reply: { node: node as LookupResponse['node'], config }, heartbeatTimeoutGiven, heartbeatTimeoutUsable: timeout.usable };
}
