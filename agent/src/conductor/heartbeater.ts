import type { Logger } from 'pino';
import { isIngotError, type HeartbeatRequest } from '@ingot/protocol';
import type { ConductorApi } from './conductor-api.ts';

/** The loop wakes at least this often; a forced heartbeat waits this long after the previous one (2.4). */
const MIN_GAP_MS = 5_000;

/** Next interval after a success: heartbeat_timeout × U(0.3, 0.6), so thousands of agents never pulse together. */
export function nextHeartbeatDelayMs(succeeded: boolean, heartbeatTimeoutSeconds: number, random: () => number = Math.random): number {
  return succeeded
    ? heartbeatTimeoutSeconds * (0.3 + 0.3 * random()) * 1000
    : 5 * (1 + random()) * 1000;
}

export interface Heartbeater {
  start(): void;
  stop(): void;
  /** Asks for a heartbeat as soon as 5 s have passed since the last one (an async command ended). */
  force(): void;
  readonly beats: number;
}

export interface HeartbeaterOptions {
  api: ConductorApi;
  nodeUuid: string;
  heartbeatTimeoutSeconds: number;
  body(): HeartbeatRequest;
  log: Logger;
  /** The conductor refused the token: the agent must behave as freshly booted. */
  onTokenRefused(reason: string): void;
  onBeat?(ok: boolean): void;
  random?: () => number;
}

export function createHeartbeater(options: HeartbeaterOptions): Heartbeater {
  const { api, log } = options;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let inFlight = false;
  let lastSentAt = 0;
  let nextDueAt = 0;
  let beats = 0;

  const schedule = () => {
    if (!running) return;
    const wait = Math.max(0, Math.min(nextDueAt - Date.now(), MIN_GAP_MS));
    timer = setTimeout(tick, wait);
  };

  const tick = async () => {
    if (!running || inFlight) return;
    if (Date.now() < nextDueAt) return schedule();
    inFlight = true;
    lastSentAt = Date.now();
    let ok = false;
    try {
      await api.heartbeat(options.nodeUuid, options.body());
      ok = true;
      beats += 1;
      log.debug({ node: options.nodeUuid }, 'heartbeat sent');
    } catch (error) {
      if (isIngotError(error, 'INGOT_HEARTBEAT_TOKEN_REFUSED')) {
        inFlight = false;
        log.warn({ reason: error.details }, 'conductor refused the agent token; starting over as freshly booted');
        running = false;
        options.onTokenRefused(error.details);
        return;
      }
      log.warn({ err: error }, 'heartbeat failed; retrying soon');
    } finally {
      inFlight = false;
    }
    options.onBeat?.(ok);
    nextDueAt = Date.now() + nextHeartbeatDelayMs(ok, options.heartbeatTimeoutSeconds, options.random);
    schedule();
  };

  return {
    get beats() { return beats; },
    start() {
      if (running) return;
      running = true;
      nextDueAt = 0;
      void tick();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
    force() {
      nextDueAt = Math.min(nextDueAt, lastSentAt + MIN_GAP_MS);
      if (running && !inFlight) {
        clearTimeout(timer);
        schedule();
      }
    },
  };
}
