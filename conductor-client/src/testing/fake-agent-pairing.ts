/**
 * The agent's side of pairing, for tests: look the node up (retrying as IPA
 * does while the conductor answers 404), hand the token to a fake agent, and
 * heartbeat with its URL (ipa-protocol.md §2.3, §2.4).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION_HEADER, REDACTED_TOKEN, type LookupResponse } from '@ingot/protocol';
import type { FakeAgentServer } from './fake-agent-server.ts';

export interface PairFakeAgentOptions {
  /** The conductor's API URL (`ipa-api-url`). */
  apiUrl: string;
  agent: FakeAgentServer;
  macs: string[];
  /** Default '1.68'. */
  apiVersion?: string;
  /** PEM sent as agent_verify_ca (the fake agent's TLS certificate). */
  agentVerifyCa?: string;
  /** A token given out of band (virtual media), kept when lookup answers '******'. */
  token?: string;
  /** Default 10000. */
  lookupTimeoutMs?: number;
}

export interface FakeAgentPairing {
  nodeUuid: string;
  token: string;
  lookup: LookupResponse;
  /** Sends one heartbeat; rejects with the conductor's answer unless it is 202. */
  heartbeat(): Promise<void>;
  /** Heartbeats every `intervalMs` until stop(); failures are kept in `errors`. */
  startHeartbeats(intervalMs: number): void;
  stop(): void;
  readonly errors: Error[];
}

export async function pairFakeAgent(options: PairFakeAgentOptions): Promise<FakeAgentPairing> {
  const apiVersion = options.apiVersion ?? '1.68';
  const base = options.apiUrl.replace(/\/+$/, '');
  const headers = { [API_VERSION_HEADER]: apiVersion, 'Content-Type': 'application/json', Accept: 'application/json' };
  const deadline = Date.now() + (options.lookupTimeoutMs ?? 10_000);
  let lookup: LookupResponse | undefined;
  while (!lookup) {
    const response = await fetch(`${base}/v1/lookup?addresses=${encodeURIComponent(options.macs.join(','))}`, { headers }).catch(() => undefined);
    if (response?.status === 200) lookup = await response.json() as LookupResponse;
    else if (Date.now() > deadline) throw new Error(`lookup failed: ${response ? `HTTP ${response.status} ${await response.text()}` : 'no answer'}`);
    else await sleep(100);
  }
  const offered = lookup.config.agent_token;
  const token = typeof offered === 'string' && offered !== REDACTED_TOKEN ? offered : options.token;
  if (!token) throw new Error('the conductor withheld the token and none was given out of band');
  options.agent.setToken(token);
  const nodeUuid = lookup.node.uuid;
  const errors: Error[] = [];
  let timer: NodeJS.Timeout | undefined;

  async function heartbeat(): Promise<void> {
    const body = {
      callback_url: options.agent.url, agent_token: token, agent_version: 'ingot-fake-1.0',
      ...(options.agentVerifyCa ? { agent_verify_ca: options.agentVerifyCa } : {}),
    };
    const response = await fetch(`${base}/v1/heartbeat/${nodeUuid}`, { method: 'POST', headers, body: JSON.stringify(body) });
    if (response.status !== 202) throw new Error(`heartbeat refused: HTTP ${response.status} ${await response.text()}`);
  }

  return {
    nodeUuid, token, lookup, heartbeat, errors,
    startHeartbeats(intervalMs) {
      const beat = () => { heartbeat().catch((error: Error) => errors.push(error)); };
      beat();
      timer = setInterval(beat, intervalMs);
    },
    stop() { clearInterval(timer); },
  };
}
