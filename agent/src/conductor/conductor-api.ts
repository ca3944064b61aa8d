import type { Logger } from 'pino';
import {
  API_VERSION_HEADER, apiVersions, compareApiVersions, describeInput, IngotError, minApiVersion, redactUrl,
  type HeartbeatRequest, type LookupResponse,
} from '@ingot/protocol';
import { parseLookupReply } from './lookup-reply.ts';
import { ConnectionError, requestJson, type JsonRequest, type JsonResponse } from '../net/http-json.ts';

export interface ConductorApiOptions {
  urls: readonly string[];
  ca?: string;
  insecure: boolean;
  timeoutMs: number;
  log: Logger;
  globalRequestId?: string;
  /** ipa-ironic-api-version: use this instead of discovering. */
  apiVersion?: string;
  minTlsVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface ConductorApi {
  /** The conductor's maximum API version, or 1.31 when discovery fails (not cached then; 2.2). */
  discoverVersion(): Promise<string>;
  /** One lookup attempt; throws INGOT_LOOKUP_FAILED with the reason on anything but a usable 200. */
  lookup(query: { macs: readonly string[]; nodeUuid?: string }): Promise<LookupResponse>;
  heartbeat(nodeUuid: string, body: HeartbeatRequest): Promise<void>;
  /** The URL that answered last (first in the failover order). */
  currentUrl(): string;
}

/**
 * The agent's client of the conductor's lookup and heartbeat endpoints
 * (reference 2): failover across URLs on connection errors, the URL that
 * worked rotated to the front, version negotiation per call.
 */
export function createConductorApi(options: ConductorApiOptions): ConductorApi {
  const urls = options.urls.map((url) => url.replace(/\/+$/, ''));
  if (urls.length === 0) throw new IngotError('INGOT_CONFIG_INVALID', { details: 'no conductor URL: set ipa-api-url (or --api-url)' });
  let discovered: string | undefined = options.apiVersion;

  // A conductor that cannot be reached is said once per call, by the caller (one warning per lookup attempt):
  // passing to the next URL is a debug line.
  const send = async (request: Omit<JsonRequest, 'url' | 'timeoutMs'> & { path: string }): Promise<JsonResponse> => {
    const failures: ConnectionError[] = [];
    for (const base of [...urls]) {
      try {
        const headers = { ...request.headers, ...(options.globalRequestId ? { 'X-OpenStack-Request-ID': options.globalRequestId } : {}) };
        const response = await requestJson({ ...request, headers, url: `${base}${request.path}`, timeoutMs: options.timeoutMs, ca: options.ca, insecure: options.insecure, minTlsVersion: options.minTlsVersion });
        if (urls[0] !== base) urls.splice(0, urls.length, base, ...urls.filter((url) => url !== base));
        return response;
      } catch (error) {
        if (!(error instanceof ConnectionError)) throw error;
        failures.push(error);
        if (failures.length < urls.length) options.log.debug({ url: redactUrl(base), reason: error.reason }, 'conductor unreachable; trying the next URL');
      }
    }
    throw new ConductorUnreachableError(urls.map(redactUrl), failures);
  };

  /** The conductor's version; throws ConductorUnreachableError when no URL answers. */
  const discover = async (): Promise<string> => {
    if (discovered) return discovered;
    const response = await send({ method: 'GET', path: '/' });
    const version = (response.body as { default_version?: { version?: unknown } } | null)?.default_version?.version;
    if (typeof version === 'string' && compareApiVersions(version, '0.0') > 0) {
      discovered = version;
      return version;
    }
    options.log.warn({ status: response.status }, 'conductor did not report its API version; assuming 1.31');
    return apiVersions.min;
  };

  return {
    currentUrl: () => urls[0]!,

    async discoverVersion() {
      try {
        return await discover();
      } catch (error) {
        options.log.warn({ err: error }, 'API version discovery failed; assuming 1.31');
        return apiVersions.min;
      }
    },

    async lookup({ macs, nodeUuid }) {
      let discoveredVersion: string;
      try {
        discoveredVersion = await discover();
      } catch (error) {
        // Unreachable a moment ago: a lookup now would most likely fail the same way, and one that
        // got through at 1.31 would come back without a token. This attempt fails; the caller retries.
        if (error instanceof ConductorUnreachableError) throw new IngotError('INGOT_LOOKUP_FAILED', { details: error.message, cause: error });
        throw error;
      }
      const version = minApiVersion(discoveredVersion, apiVersions.agentToken);
      const query = new URLSearchParams({ addresses: macs.join(',') });
      if (nodeUuid) query.set('node_uuid', nodeUuid);
      let response: JsonResponse;
      try {
        response = await send({ method: 'GET', path: `/v1/lookup?${query}`, headers: { [API_VERSION_HEADER]: version } });
      } catch (error) {
        throw new IngotError('INGOT_LOOKUP_FAILED', { details: (error as Error).message, cause: error });
      }
      if (response.status !== 200) {
        throw new IngotError('INGOT_LOOKUP_FAILED', { status: response.status, details: `${this.currentUrl()}/v1/lookup answered ${response.status}: ${faultOf(response)}` });
      }
      const { reply, heartbeatTimeoutGiven, heartbeatTimeoutUsable } = parseLookupReply(response.body, `${this.currentUrl()}/v1/lookup`);
      if (!heartbeatTimeoutUsable) {
        options.log.warn({ given: describeInput(heartbeatTimeoutGiven), used: reply.config.heartbeat_timeout }, 'the lookup gave no usable heartbeat_timeout (a number of seconds, at least 1); using the default');
      }
      return reply;
    },

    async heartbeat(nodeUuid, body) {
      const version = minApiVersion(await this.discoverVersion(), apiVersions.agentVerifyCa);
      const payload: Record<string, unknown> = { callback_url: body.callback_url };
      if (compareApiVersions(version, apiVersions.agentToken) >= 0) payload.agent_token = body.agent_token ?? null;
      if (compareApiVersions(version, apiVersions.agentVersion) >= 0 && body.agent_version) payload.agent_version = body.agent_version;
      if (compareApiVersions(version, apiVersions.agentVerifyCa) >= 0 && body.agent_verify_ca) payload.agent_verify_ca = body.agent_verify_ca;
      let response: JsonResponse;
      try {
        response = await send({ method: 'POST', path: `/v1/heartbeat/${encodeURIComponent(nodeUuid)}`, headers: { [API_VERSION_HEADER]: version }, body: payload });
      } catch (error) {
        throw new IngotError('INGOT_HEARTBEAT_FAILED', { details: (error as Error).message, cause: error });
      }
      if (response.status === 202 || response.status === 200 || response.status === 204) return;
      const fault = faultOf(response);
      if (/invalid or missing agent token|agent token is required/i.test(fault)) {
        throw new IngotError('INGOT_HEARTBEAT_TOKEN_REFUSED', { status: response.status, details: fault });
      }
      throw new IngotError('INGOT_HEARTBEAT_FAILED', { status: response.status, details: `${response.status}: ${fault}` });
    },
  };
}

/**
 * No conductor URL answered: `cannot reach the conductor at <url>: <why>`, or
 * with several URLs each with its reason. The URLs are shown without secrets
 * and without the request's query.
 */
export class ConductorUnreachableError extends Error {
  constructor(readonly urls: readonly string[], readonly failures: readonly ConnectionError[]) {
    const reasons = failures.map((failure) => failure.reason);
    super(urls.length === 1
      ? `cannot reach the conductor at ${urls[0]}: ${reasons[0] ?? 'no answer'}`
      : `cannot reach any conductor URL: ${urls.map((url, index) => `${url}: ${reasons[index] ?? 'no answer'}`).join('; ')}`, { cause: failures.at(-1) });
    this.name = 'ConductorUnreachableError';
  }
}

/** Ironic wraps its error JSON in a string: {"error_message": "{\"faultstring\": ...}"}. */
export function faultOf(response: JsonResponse): string {
  const body = response.body as Record<string, unknown> | null;
  let inner: unknown = body?.error_message ?? body;
  if (typeof inner === 'string') {
    try {
      inner = JSON.parse(inner);
    } catch {
      return (inner as string).slice(0, 300);
    }
  }
  const record = inner as Record<string, unknown> | null;
  const text = record?.faultstring ?? record?.title ?? record?.message;
  return typeof text === 'string' ? text.slice(0, 300) : response.text.slice(0, 300);
}
