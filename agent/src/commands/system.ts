import { defineExtension, type Extension } from './command.ts';

/**
 * IPA's `system` extension: `lockdown` (sync, result null; ipa-protocol.md
 * 4.1, 4.2). Ironic sends standby.sync first, then this, then polls until
 * connections fail; the agent stops serving once the reply is sent.
 */
export function createSystemExtension(deps: { onLockdown(): void }): Extension {
  return defineExtension('system', [{
    name: 'lockdown',
    mode: 'sync',
    async run(_params, ctx) {
      ctx.log.warn('lockdown requested: the API, the heartbeats and (in the ramdisk) the network stop after this reply');
      deps.onLockdown();
      return null;
    },
  }]);
}
