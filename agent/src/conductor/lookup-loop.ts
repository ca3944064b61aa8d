import type { Logger } from 'pino';
import { REDACTED_TOKEN } from '@ingot/protocol';
import type { AgentConfig } from '../config.ts';
import type { Session } from '../session/session.ts';
import type { ConductorApi } from './conductor-api.ts';
import { createHeartbeater, type Heartbeater } from './heartbeater.ts';
import { abortableSleep, lookupBackoffSeconds, lookupNode } from './lookup.ts';

export interface LookupLoopOptions {
  api: ConductorApi;
  session: Session;
  config: Pick<AgentConfig, 'lookupTimeout' | 'lookupInterval'>;
  log: Logger;
  /** The agent's version, sent with every heartbeat. */
  version: string;
  /** The MACs to look the node up by. */
  macs(): Promise<readonly string[]>;
  /** Serves the API once the first lookup succeeded; later calls find it listening and return at once. */
  listen(): Promise<void>;
  /** The agent starts over as freshly booted: its commands must be forgotten. */
  onStartOver(): void;
  onBeat(ok: boolean): void;
  signal: AbortSignal;
}

export interface LookupLoop {
  /** Looks up, serves and heartbeats until the signal aborts; rejects when a lookup fails for good. */
  run(): Promise<void>;
  /**
   * Forgets the session and looks up again, as if freshly booted (the
   * conductor refused the token, or a power action cut no power).
   */
  startOver(reason: string, options?: { afterPowerAction?: boolean }): void;
  /** An async command ended: heartbeat as soon as allowed (ipa-protocol.md 2.4). */
  forceHeartbeat(): void;
  /** Stops heartbeating at once (the agent stops; abort the signal to end `run`). */
  stop(): void;
}

/**
 * The agent's life with its conductor (ipa-protocol.md 2, 3): look the node
 * up, take the token, serve the API, heartbeat; when the conductor refuses
 * the token, forget everything and look up again.
 */
export function createLookupLoop(options: LookupLoopOptions): LookupLoop {
  const { api, session, config, log, signal } = options;
  let heartbeater: Heartbeater | undefined;
  let restart: (() => void) | undefined;

  const startOver: LookupLoop['startOver'] = (reason, startOverOptions = {}) => {
    log.warn({ reason }, 'starting over as freshly booted: forgetting commands and looking up again');
    heartbeater?.stop();
    heartbeater = undefined;
    options.onStartOver();
    session.forget(startOverOptions);
    restart?.();
  };

  const run = async () => {
    let withheldAttempt = 0;
    for (;;) {
      session.setPhase('looking-up');
      const found = await lookupNode({
        api, macs: await options.macs(), nodeUuid: session.node?.uuid, log, signal,
        timeoutSeconds: config.lookupTimeout, intervalSeconds: Math.max(1, config.lookupInterval),
      });
      // After standby.power_off or run_image that cut no power (a simulated
      // machine), the conductor may not have power-cycled the node yet: Ironic
      // first polls the BMC, then powers off and only then wipes the token
      // (ironic-conductor.md §4, tear_down_agent). Until then a lookup still
      // finds the node and withholds the token ("******"). A real machine would
      // still be off: ask again later instead of locking down, within the
      // lookup timeout.
      const powerActionAt = session.powerActionAt;
      if (powerActionAt !== undefined && !session.token && found.config.agent_token === REDACTED_TOKEN
        && Date.now() - powerActionAt < config.lookupTimeout * 1000) {
        withheldAttempt += 1;
        const waitSeconds = lookupBackoffSeconds(withheldAttempt, Math.max(1, config.lookupInterval));
        log.info({ attempt: withheldAttempt, waitSeconds: Number(waitSeconds.toFixed(1)) }, 'the conductor still holds the token of before the power action; looking up again later');
        // Aborted means the agent stops: the sleep's rejection is that, and nothing else.
        await abortableSleep(waitSeconds * 1000, signal).catch(() => undefined);
        if (signal.aborted) return;
        continue;
      }
      withheldAttempt = 0;
      session.applyLookup(found);
      await options.listen();
      session.setPhase('serving');
      const restarted = new Promise<void>((resolve) => { restart = resolve; });
      heartbeater = createHeartbeater({
        api, log, nodeUuid: found.node.uuid,
        heartbeatTimeoutSeconds: found.config.heartbeat_timeout,
        body: () => session.heartbeatBody(options.version),
        onTokenRefused: (reason) => startOver(`heartbeat token refused: ${reason}`),
        onBeat: options.onBeat,
      });
      heartbeater.start();
      await Promise.race([restarted, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
      if (signal.aborted) {
        heartbeater?.stop();
        return;
      }
    }
  };

  return {
    run,
    startOver,
    forceHeartbeat: () => heartbeater?.force(),
    stop: () => heartbeater?.stop(),
  };
}
