/**
 * Rescue as Ironic runs it in RESCUEWAIT (ironic-conductor.md §1, heartbeat
 * processing): `rescue.finalize_rescue` with the password's SHA-512 crypt
 * hash, falling back to the plain password only when the agent refuses the
 * hashed form and the conductor allows it; then the agent stops its API.
 */
import { pino, type Logger } from 'pino';
import { cryptSha512, isIngotError } from '@ingot/protocol';
import type { AgentClient } from '../agent-client.ts';

export interface RescueOptions {
  client: AgentClient;
  /** The rescue password in plain text; only its hash is sent, unless the agent refuses hashes and `requireHashed` is false. */
  password: string;
  /** Ironic's `[conductor]require_rescue_password_hashed`: never send the plain password. Default false. */
  requireHashed?: boolean;
  /** How long the agent may keep answering after its reply. Default 60000. */
  stopTimeoutMs?: number;
  /** Between probes of the agent's API while it stops. Default 500. */
  pollIntervalMs?: number;
  log?: Logger;
  signal?: AbortSignal;
}

export interface RescueReport {
  /** Whether the agent took the hash (false: it only took the plain password). */
  hashed: boolean;
  /** From finalize_rescue sent to the agent's API refusing connections. */
  durationMs: number;
}

/**
 * Sends finalize_rescue and waits until the agent's API stops answering: the
 * node is then rescued and its console offers the `rescue` login. Throws the
 * agent's error when it refuses both forms, and INGOT_AGENT_COMMAND_TIMEOUT
 * when it keeps answering.
 */
export async function driveRescue(options: RescueOptions): Promise<RescueReport> {
  const { client } = options;
  const log = options.log ?? pino({ level: 'silent' });
  const started = Date.now();
  let hashed = true;
  try {
    await client.finalizeRescue(cryptSha512(options.password), { hashed: true });
  } catch (error) {
    // Ironic retries on an API error (an agent older than IPA 6.0 knows no `hashed`), never when busy or unreachable.
    const refusal = isIngotError(error) && error.status !== undefined && error.status >= 400 && error.status < 500 && error.code !== 'INGOT_AGENT_BUSY' && error.code !== 'INGOT_TOKEN_INVALID';
    if (!(refusal || isIngotError(error, 'INGOT_AGENT_API_ERROR')) || options.requireHashed) throw error;
    log.warn({ err: error }, 'the agent refused the hashed rescue password; sending the plain password, as Ironic does for older agents');
    hashed = false;
    await client.finalizeRescue(options.password, { hashed: false });
  }
  log.info({ hashed }, 'finalize_rescue succeeded; waiting for the agent to stop its API');
  await client.waitUntilUnreachable({ timeoutMs: options.stopTimeoutMs ?? 60_000, intervalMs: options.pollIntervalMs ?? 500, signal: options.signal });
  return { hashed, durationMs: Date.now() - started };
}
