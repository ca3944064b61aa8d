import { IngotError, type LookupResponse } from '@ingot/protocol';
import type { InventorySource } from '../inventory/inventory.ts';
import type { Session } from '../session/session.ts';
import { defineExtension, type Extension } from './command.ts';

export interface PollExtensionDeps {
  inventory: InventorySource;
  session: Pick<Session, 'applyLookup'>;
  /** No conductor is configured (no ipa-api-url): nothing looks the node up, so set_node_info may stand in for it. */
  standalone: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * `poll.set_node_info`'s `node_info`: what a lookup returns, `{node, config}`
 * (ipa-protocol.md 2.3, 4.1); `config` may be left out. Errors name the field.
 */
export function parseNodeInfo(params: Record<string, unknown>): LookupResponse {
  const nodeInfo = params.node_info;
  if (!isRecord(nodeInfo)) throw new IngotError('INGOT_INVALID_PARAMS', { details: '"node_info" must be an object shaped like a lookup reply: {"node": {"uuid": ...}, "config": {...}}' });
  const { node, config = {} } = nodeInfo;
  if (!isRecord(node) || typeof node.uuid !== 'string' || node.uuid.length === 0) {
    throw new IngotError('INGOT_INVALID_PARAMS', { details: '"node_info.node" must be an object with a non-empty "uuid" string' });
  }
  if (!isRecord(config)) throw new IngotError('INGOT_INVALID_PARAMS', { details: '"node_info.config" must be an object when given' });
  return { node: node as LookupResponse['node'], config: config as LookupResponse['config'] };
}

/**
 * IPA's `poll` extension (ipa-protocol.md 4.1): `get_hardware_info`, the
 * inventory collected fresh; `set_node_info`, which only a standalone agent
 * accepts (IPA's InvalidCommandError otherwise): it is applied as a lookup
 * reply would be (the node cached, the config's switches and token honoured).
 */
export function createPollExtension(deps: PollExtensionDeps): Extension {
  return defineExtension('poll', [
    { name: 'get_hardware_info', mode: 'sync', run: () => deps.inventory.collect() },
    {
      name: 'set_node_info',
      mode: 'sync',
      validate(params) {
        if (!deps.standalone) {
          throw new IngotError('INGOT_INVALID_COMMAND', {
            details: 'poll.set_node_info is accepted only in standalone mode; this agent has a conductor (ipa-api-url) and learns its node from the lookup',
          });
        }
        parseNodeInfo(params);
      },
      async run(params, ctx) {
        const found = parseNodeInfo(params);
        deps.session.applyLookup(found);
        ctx.log.info({ node: found.node.uuid, configKeys: Object.keys(found.config).sort() }, 'node information set (standalone)');
        return null;
      },
    },
  ]);
}
