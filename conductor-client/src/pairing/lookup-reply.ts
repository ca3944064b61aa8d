/**
 * Builds the lookup reply in Ironic's shape (ironic-conductor.md §2, "Lookup"):
 * a node subset with secrets masked and the `config` the agent reads.
 */
import { REDACTED_TOKEN, type LookupResponse } from '@ingot/protocol';
import type { NodeRecord } from './node-store.ts';

/** Keys Ironic masks in instance_info besides password-like ones. */
const ALWAYS_MASKED = new Set(['configdrive', 'image_url']);
const SECRET_KEY = /pass|secret|token|credential|private_key|auth/i;

function mask(values: Record<string, unknown>, extra: ReadonlySet<string> = new Set()): Record<string, unknown> {
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    masked[key] = extra.has(key) || SECRET_KEY.test(key) ? REDACTED_TOKEN : value;
  }
  return masked;
}

export interface LookupReplyInput {
  record: NodeRecord;
  /** The plaintext token when it was issued by this lookup, '******' when one exists, null below API 1.62. */
  agentToken: string | null;
  heartbeatTimeout: number;
  extraConfig?: Record<string, unknown>;
}

export function buildLookupReply({ record, agentToken, heartbeatTimeout, extraConfig }: LookupReplyInput): LookupResponse {
  const internal = mask(record.driver_internal_info);
  if (record.tokenHash) internal.agent_secret_token = REDACTED_TOKEN;
  return {
    node: {
      uuid: record.uuid,
      properties: record.properties,
      instance_info: mask(record.instance_info, ALWAYS_MASKED),
      driver_internal_info: internal,
      links: [],
    },
    config: {
      // Shape of Ironic's reply; IPA ignores these, but other agents may not.
      metrics: { backend: 'noop', prepend_host: false, prepend_uuid: false, prepend_host_reverse: true, global_prefix: null },
      metrics_statsd: { statsd_host: 'localhost', statsd_port: 8125 },
      heartbeat_timeout: heartbeatTimeout,
      agent_token: agentToken,
      agent_token_required: true,
      disable_deep_image_inspection: false,
      permitted_image_formats: ['raw', 'qcow2', 'iso'],
      ...extraConfig,
    },
  };
}
