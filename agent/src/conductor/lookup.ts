import type { Logger } from 'pino';
import { IngotError, isIngotError, redactUrl, type LookupResponse } from '@ingot/protocol';
import type { ConductorApi } from './conductor-api.ts';

/** Extra waits after a 409 (node locked): 5 s, 10 s, then 30 s (2.3). */
const conflictWaits = [5, 10, 30];

/**
 * The wait before retry `attempt` (1-based): uniform between the interval and
 * min(60, max(interval, 2^(attempt-1))) seconds, "full jitter" (2.3), so that
 * a rack of agents booted together spreads its lookups.
 */
export function lookupBackoffSeconds(attempt: number, intervalSeconds: number, random: () => number = Math.random): number {
  const ceiling = Math.min(60, Math.max(intervalSeconds, 2 ** (attempt - 1)));
  return intervalSeconds + (ceiling - intervalSeconds) * random();
}

export interface LookupOptions {
  api: ConductorApi;
  macs: readonly string[];
  nodeUuid?: string;
  timeoutSeconds: number;
  intervalSeconds: number;
  log: Logger;
  signal: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** Looks the node up until it is found or the timeout passes (then INGOT_LOOKUP_FAILED). */
export async function lookupNode(options: LookupOptions): Promise<LookupResponse> {
  const { api, log, signal } = options;
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutSeconds * 1000;
  if (options.macs.length === 0 && !options.nodeUuid) {
    throw new IngotError('INGOT_LOOKUP_FAILED', { details: 'no MAC address found on any interface and no node UUID known: nothing to look the node up by' });
  }
  let conflicts = 0;
  for (let attempt = 1; ; attempt += 1) {
    signal.throwIfAborted();
    try {
      const found = await api.lookup({ macs: options.macs, nodeUuid: options.nodeUuid });
      log.info({ node: found.node.uuid, attempt }, 'node found by lookup');
      return found;
    } catch (error) {
      if (!isIngotError(error)) throw error;
      let extra = 0;
      if (error.status === 409) extra = conflictWaits[Math.min(conflicts++, conflictWaits.length - 1)]!;
      const waitSeconds = extra + lookupBackoffSeconds(attempt, options.intervalSeconds, options.random);
      if (now() + waitSeconds * 1000 > deadline) {
        throw new IngotError('INGOT_LOOKUP_FAILED', {
          details: `no node found after ${options.timeoutSeconds} s and ${attempt} attempts (last: ${error.details}); check that a node with one of the MACs ${options.macs.join(', ')} is enrolled and in a state that allows lookup`,
          cause: error,
        });
      }
      const retryInSeconds = Number(waitSeconds.toFixed(1));
      const retryAt = new Date(now() + waitSeconds * 1000);
      // One line per attempt, whole in its message (the readable form shows no nested fields): what, why, when next.
      log.warn(
        { lookup: { attempt, url: redactUrl(api.currentUrl()), reason: error.details, ...(error.status === 500 ? {} : { status: error.status }), retryInSeconds, retryAt: retryAt.toISOString() } },
        `lookup failed (attempt ${attempt}): ${error.details}; next try in ${retryInSeconds} s, at ${retryAt.toTimeString().slice(0, 8)}`,
      );
      await sleep(waitSeconds * 1000, signal);
    }
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal.reason); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
