/**
 * Lookup and heartbeat as plain async functions, usable from any HTTP
 * framework (router.ts wraps them for express). Checks follow Ironic 21.4's
 * order (ironic-conductor.md §2) with one addition agreed upstream in 2019: a
 * per-node source-address allow-list, checked first on both endpoints.
 */
import { X509Certificate } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { IngotError, REDACTED_TOKEN, apiVersions, compareApiVersions, type LookupResponse } from '@ingot/protocol';
import { parseAddressFilter } from './address-filter.ts';
import { parseCallbackUrl } from './callback-url.ts';
import { buildLookupReply } from './lookup-reply.ts';
import { normaliseMac } from './mac.ts';
import type { NodeRecord, NodeStore } from './node-store.ts';
import { generateAgentToken, verifyAgentToken } from './token.ts';

export interface LookupRequest {
  /** MAC addresses, as a list or Ironic's comma-separated string; invalid ones are ignored. */
  addresses?: readonly string[] | string;
  nodeUuid?: string;
  /** The peer's address as the socket reports it. */
  remoteAddress?: string;
  /** The request's X-OpenStack-Ironic-API-Version. */
  apiVersion: string;
}

export interface HeartbeatContext {
  remoteAddress?: string;
  apiVersion: string;
}

/** An accepted heartbeat, as given to `onHeartbeat`. */
export interface HeartbeatEvent {
  node: NodeRecord;
  callbackUrl: string;
  agentVersion: string;
  agentVerifyCa?: string;
  /** True for the first heartbeat since the agent URL was last wiped. */
  first: boolean;
  remoteAddress?: string;
}

export interface PairingOptions {
  store: NodeStore;
  /** Seconds; sent to the agent as `config.heartbeat_timeout` (Ironic's default 300). */
  heartbeatTimeout?: number;
  /** Refuse heartbeats whose callback_url is not https (Ironic's `[agent]require_tls`). */
  requireTls?: boolean;
  log?: Logger;
  /** Called after a heartbeat is recorded; not awaited by the heartbeat (Ironic processes it after the 202). */
  onHeartbeat?: (event: HeartbeatEvent) => void | Promise<void>;
  /** Receives the plaintext token once, at issuance; only its hash is stored. */
  onTokenIssued?: (uuid: string, token: string, info: { pregenerated: boolean }) => void;
  /** Called after a successful lookup. */
  onLookup?: (event: { node: NodeRecord; tokenIssued: boolean; remoteAddress?: string }) => void;
  /** Extra keys merged into the lookup reply's `config`. */
  extraLookupConfig?: Record<string, unknown>;
}

export interface Pairing {
  lookup(request: LookupRequest): Promise<LookupResponse>;
  heartbeat(uuidOrName: string, body: unknown, context: HeartbeatContext): Promise<HeartbeatEvent>;
  issueToken(uuid: string, options?: { pregenerated?: boolean }): Promise<string>;
  revokeToken(uuid: string, options?: { keepPregenerated?: boolean }): Promise<void>;
}

const atLeast = (version: string, wanted: string): boolean => compareApiVersions(version, wanted) >= 0;

function splitAddresses(addresses: LookupRequest['addresses']): string[] {
  if (addresses === undefined) return [];
  return (typeof addresses === 'string' ? addresses.split(',') : [...addresses]).map((a) => a.trim()).filter(Boolean);
}

function field(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new IngotError('INGOT_HEARTBEAT_INVALID', { details: `"${name}" must be a string` });
  return value;
}

function invalid(details: string): IngotError {
  return new IngotError('INGOT_HEARTBEAT_INVALID', { details });
}

function samePem(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).fingerprint256 === new X509Certificate(b).fingerprint256;
  } catch {
    return a.trim() === b.trim();
  }
}

/** Builds the pairing functions over a NodeStore. */
export function createPairing(options: PairingOptions): Pairing {
  const { store, heartbeatTimeout = 300, requireTls = false } = options;
  const log = options.log ?? pino({ level: 'silent' });
  const notFound = () => new IngotError('INGOT_NODE_NOT_FOUND');

  async function findForLookup(request: LookupRequest): Promise<NodeRecord> {
    const given = splitAddresses(request.addresses);
    const macs = given.map((mac) => normaliseMac(mac)).filter((mac): mac is string => mac !== undefined);
    if (macs.length < given.length) log.warn({ ignored: given.length - macs.length }, 'lookup: ignoring invalid MAC addresses');
    const nodeUuid = request.nodeUuid?.trim() || undefined;
    if (!nodeUuid && macs.length === 0) {
      throw new IngotError('INGOT_BAD_REQUEST', { details: "At least one of 'addresses' and 'node_uuid' parameters is required" });
    }
    const record = nodeUuid ? await store.get(nodeUuid) : await store.findByAddresses(macs);
    const context = { remoteAddress: request.remoteAddress, node: record?.uuid };
    // Every refusal below answers exactly "not found", so a scanner learns nothing; the reason goes to the log.
    if (!record) {
      log.info(context, 'lookup refused: no such node');
      throw notFound();
    }
    if (!parseAddressFilter(record.allowedAddresses).allows(request.remoteAddress)) {
      log.warn(context, 'lookup refused: source address not allowed for this node');
      throw notFound();
    }
    if (!record.lookupAllowed) {
      log.info(context, 'lookup refused: node is not in a state that allows lookup');
      throw notFound();
    }
    return record;
  }

  async function lookup(request: LookupRequest): Promise<LookupResponse> {
    const found = await findForLookup(request);
    let agentToken: string | null = null;
    let record = found;
    let issued: string | undefined;
    if (atLeast(request.apiVersion, apiVersions.agentToken)) {
      // Issue only when none is stored, inside the store's atomic update (Ironic's get_node_with_token lock).
      const updated = await store.update(found.uuid, (current) => {
        if (current.tokenHash) return undefined;
        const fresh = generateAgentToken();
        issued = fresh.token;
        return { tokenHash: fresh.hash, tokenPregenerated: false };
      });
      if (!updated) throw notFound();
      record = updated;
      agentToken = issued ?? REDACTED_TOKEN;
      if (issued) options.onTokenIssued?.(record.uuid, issued, { pregenerated: false });
    }
    log.info({ node: record.uuid, remoteAddress: request.remoteAddress, tokenIssued: issued !== undefined }, 'lookup answered');
    options.onLookup?.({ node: record, tokenIssued: issued !== undefined, remoteAddress: request.remoteAddress });
    return buildLookupReply({ record, agentToken, heartbeatTimeout, extraConfig: options.extraLookupConfig });
  }

  async function heartbeat(uuidOrName: string, rawBody: unknown, context: HeartbeatContext): Promise<HeartbeatEvent> {
    const found = await store.get(uuidOrName);
    const logContext = { node: found?.uuid ?? uuidOrName, remoteAddress: context.remoteAddress };
    try {
      if (!found) throw notFound();
      if (!parseAddressFilter(found.allowedAddresses).allows(context.remoteAddress)) {
        throw new IngotError('INGOT_ADDRESS_NOT_ALLOWED', { details: `${context.remoteAddress ?? 'unknown address'}` });
      }
      if (rawBody === null || typeof rawBody !== 'object' || Array.isArray(rawBody)) throw invalid('the body must be a JSON object');
      const body = rawBody as Record<string, unknown>;
      const callbackUrl = parseCallbackUrl(body.callback_url);
      const token = field(body, 'agent_token');
      const agentVersion = field(body, 'agent_version');
      const agentVerifyCa = field(body, 'agent_verify_ca');
      // Ironic §2 checks 1 to 3: fields newer than the request's microversion.
      if (agentVersion !== undefined && !atLeast(context.apiVersion, apiVersions.agentVersion)) throw invalid('Field "agent_version" not recognised');
      if (body.agent_status !== undefined || body.agent_status_message !== undefined) {
        // Our maximum microversion is 1.68, below the 1.72 that introduced them.
        throw invalid('Fields "agent_status" and "agent_status_message" not recognised.');
      }
      if (agentVerifyCa !== undefined && !atLeast(context.apiVersion, apiVersions.agentVerifyCa)) throw invalid('Field "agent_verify_ca" not recognised');
      let caProblem: string | undefined;
      if (agentVerifyCa !== undefined) {
        try { new X509Certificate(agentVerifyCa); } catch { caProblem = '"agent_verify_ca" is not a PEM certificate'; }
      }
      let first = false;
      // Checks 4 to 10 read the stored record, so they run inside the atomic update: a refusal writes nothing.
      const updated = await store.update(found.uuid, (current) => {
        if (current.agentUrl && current.agentUrl !== callbackUrl) {
          throw new IngotError('INGOT_CALLBACK_URL_INVALID', { details: 'Detected change in ramdisk provided "callback_url"' });
        }
        if (token === undefined || token === '') {
          throw new IngotError('INGOT_HEARTBEAT_TOKEN_INVALID', { details: 'Agent token is required for heartbeat processing.' });
        }
        if (agentVersion === undefined) throw invalid('Agent did not transmit a version, and a version is required.');
        if (!verifyAgentToken(token, current.tokenHash)) throw new IngotError('INGOT_HEARTBEAT_TOKEN_INVALID');
        if (requireTls && !callbackUrl.startsWith('https:')) {
          throw new IngotError('INGOT_CALLBACK_URL_INVALID', { details: 'TLS is required by configuration' });
        }
        if (caProblem) throw invalid(caProblem);
        if (agentVerifyCa !== undefined && current.agentVerifyCa && !samePem(current.agentVerifyCa, agentVerifyCa)) {
          throw invalid('Detected change in ramdisk provided "agent_verify_ca"');
        }
        first = !current.agentUrl;
        return {
          agentUrl: callbackUrl,
          agentVersion,
          lastHeartbeatAt: new Date().toISOString(),
          ...(agentVerifyCa !== undefined ? { agentVerifyCa } : {}),
        };
      });
      if (!updated) throw notFound();
      const event: HeartbeatEvent = {
        node: updated, callbackUrl, agentVersion: updated.agentVersion ?? '', first, remoteAddress: context.remoteAddress,
        ...(updated.agentVerifyCa ? { agentVerifyCa: updated.agentVerifyCa } : {}),
      };
      log.debug({ ...logContext, first, callbackUrl }, 'heartbeat accepted');
      if (options.onHeartbeat) {
        Promise.resolve().then(() => options.onHeartbeat?.(event))
          .catch((err: unknown) => log.error({ ...logContext, err }, 'heartbeat handler failed'));
      }
      return event;
    } catch (error) {
      if (error instanceof IngotError) log.warn({ ...logContext, code: error.code, reason: error.message }, 'heartbeat refused');
      throw error;
    }
  }

  async function issueToken(uuid: string, { pregenerated = false } = {}): Promise<string> {
    const fresh = generateAgentToken();
    const updated = await store.update(uuid, () => ({ tokenHash: fresh.hash, tokenPregenerated: pregenerated }));
    if (!updated) throw notFound();
    log.info({ node: uuid, pregenerated }, 'agent token issued');
    options.onTokenIssued?.(uuid, fresh.token, { pregenerated });
    return fresh.token;
  }

  async function revokeToken(uuid: string, { keepPregenerated = false } = {}): Promise<void> {
    const updated = await store.update(uuid, (current) => {
      const keepToken = keepPregenerated && current.tokenPregenerated === true;
      return {
        agentUrl: undefined,
        agentVerifyCa: undefined,
        ...(keepToken ? {} : { tokenHash: undefined, tokenPregenerated: undefined }),
      };
    });
    if (!updated) throw notFound();
    log.info({ node: uuid }, 'agent token and URL wiped');
  }

  return { lookup, heartbeat, issueToken, revokeToken };
}
