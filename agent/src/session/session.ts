import type { Logger } from 'pino';
import { IngotError, REDACTED_TOKEN, type HeartbeatRequest, type LookupResponse, type NodeInfo } from '@ingot/protocol';
import type { PartitionUuids } from '../disks/partition-layout.ts';

/** An image `standby.cache_image` wrote, unchanged since: a later write of the same image to the same disk is skipped (ipa-protocol.md 10.1). */
export interface CachedImage {
  /** `image_info.id` */
  id: string;
  /** The disk it was written to. */
  device: string;
}

export type AgentPhase = 'starting' | 'looking-up' | 'serving' | 'locked-down' | 'stopped';

/**
 * What one pairing with the conductor knows, from the lookup until the agent
 * starts over: the token, the node, where the API is reached, and what the
 * commands learnt on the way (the partition UUIDs of the last image write).
 * The agent, the commands and the steps read and write it here, and nowhere
 * else; `forget` is IPA's "freshly booted" (ipa-protocol.md 3).
 */
export interface Session {
  readonly phase: AgentPhase;
  /** The token the API demands; the pre-set one (virtual media, ipa-agent-token) until a lookup offers another. */
  readonly token: string | undefined;
  /** The node from the lookup, replaced by the one each step command carries (IPA's cache_node). */
  readonly node: NodeInfo | undefined;
  /** `https://<advertised host>:<port>`, once the API listens. */
  readonly callbackUrl: string | undefined;
  /** The PEM of the certificate generated for automatic TLS, sent as agent_verify_ca. */
  readonly verifyCa: string | undefined;
  /** What `standby.get_partition_uuids` answers: `{}` until an image was written (9.8). */
  readonly partitionUuids: PartitionUuids;
  /** The lookup's `agent_md5_checksum_enable` (9.3). */
  readonly md5Allowed: boolean;
  /** The lookup's `enable_bios_bootloader_install` (9.9); once allowed it stays allowed, as in IPA. */
  readonly biosBootloaderAllowed: boolean;
  /** What cache_image left on a disk; cleared by anything else that writes the disks, and when the agent starts over. */
  readonly cachedImage: CachedImage | undefined;
  /** When the agent last started over after its own power_off or run_image cut no power; undefined otherwise. */
  readonly powerActionAt: number | undefined;

  setPhase(phase: AgentPhase): void;
  /** The API listens: where the conductor calls back, and the certificate it should trust. */
  setListening(listening: { callbackUrl: string; verifyCa: string | undefined }): void;
  /**
   * Takes what a lookup returned (ipa-protocol.md 2): the node, the config
   * switches and the token. A withheld token ("******") while none is held
   * means the agent restarted behind the conductor's back: INGOT_LOOKUP_TOKEN_REFUSED.
   */
  applyLookup(found: LookupResponse): void;
  cacheNode(node: NodeInfo): void;
  recordPartitionUuids(uuids: PartitionUuids): void;
  /** cache_image wrote `image`; undefined: the disks changed since, nothing is cached. */
  recordCachedImage(image: CachedImage | undefined): void;
  /** The heartbeat's body (2.4), from what the session holds now. */
  heartbeatBody(agentVersion: string): HeartbeatRequest;
  /** Back to freshly booted: the pre-set token, no node, no partition UUIDs, no cached image. */
  forget(options?: { afterPowerAction?: boolean }): void;
}

/** A token shorter than this is not one Ironic issues (it sends 43 URL-safe characters); IPA ignores it too. */
const MIN_TOKEN_LENGTH = 32;

export function createSession(options: { presetToken?: string; log: Logger; now?: () => number }): Session {
  const { log } = options;
  const now = options.now ?? Date.now;
  let phase: AgentPhase = 'starting';
  let token = options.presetToken;
  let node: NodeInfo | undefined;
  let callbackUrl: string | undefined;
  let verifyCa: string | undefined;
  let partitionUuids: PartitionUuids = {};
  let md5Allowed = false;
  let biosBootloaderAllowed = false;
  let powerActionAt: number | undefined;
  let cachedImage: CachedImage | undefined;

  return {
    get phase() { return phase; },
    get token() { return token; },
    get node() { return node; },
    get callbackUrl() { return callbackUrl; },
    get verifyCa() { return verifyCa; },
    get partitionUuids() { return partitionUuids; },
    get md5Allowed() { return md5Allowed; },
    get biosBootloaderAllowed() { return biosBootloaderAllowed; },
    get powerActionAt() { return powerActionAt; },
    get cachedImage() { return cachedImage; },

    setPhase(next) { phase = next; },
    setListening(listening) {
      callbackUrl = listening.callbackUrl;
      verifyCa = listening.verifyCa;
    },
    applyLookup(found) {
      powerActionAt = undefined;
      node = found.node;
      md5Allowed = found.config.agent_md5_checksum_enable === true;
      // IPA honours the override only when truthy (ipa-protocol.md 2, lookup config).
      if (found.config.enable_bios_bootloader_install) biosBootloaderAllowed = true;
      const offered = found.config.agent_token;
      if (typeof offered === 'string' && offered !== REDACTED_TOKEN && offered.length >= MIN_TOKEN_LENGTH) {
        token = offered;
        log.info('received the agent token from the lookup');
      } else if (offered === REDACTED_TOKEN) {
        if (!token) {
          throw new IngotError('INGOT_LOOKUP_TOKEN_REFUSED', {
            details: 'the conductor says a token was already issued ("******") and this agent holds none: it was restarted behind the conductor\'s back; power-cycle the node from the conductor so a new token is issued',
          });
        }
        log.warn('the conductor withheld the token ("******"); keeping the one already held');
      } else if (offered) {
        log.warn(`the lookup offered a token shorter than ${MIN_TOKEN_LENGTH} characters; ignoring it`);
      }
    },
    cacheNode(value) { node = value; },
    recordPartitionUuids(uuids) { partitionUuids = { ...uuids }; },
    recordCachedImage(image) { cachedImage = image ? { ...image } : undefined; },
    heartbeatBody(agentVersion) {
      if (!callbackUrl) throw new IngotError('INGOT_INTERNAL', { details: 'a heartbeat was asked for before the API listens' });
      return { callback_url: callbackUrl, agent_token: token ?? null, agent_version: agentVersion, ...(verifyCa ? { agent_verify_ca: verifyCa } : {}) };
    },
    forget(forgetOptions = {}) {
      // A pre-set (virtual media) token survives, as Ironic keeps pregenerated ones.
      token = options.presetToken;
      node = undefined;
      partitionUuids = {};
      cachedImage = undefined;
      powerActionAt = forgetOptions.afterPowerAction ? now() : undefined;
    },
  };
}
