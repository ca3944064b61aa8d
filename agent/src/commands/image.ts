import { installBootloader, parseInstallBootloaderParams } from '../bootloader/install-bootloader.ts';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { Session } from '../session/session.ts';
import type { System } from '../system/system.ts';
import { defineExtension, type Extension } from './command.ts';

export interface ImageExtensionDeps {
  system: System;
  devices: BlockDevices;
  /** The cached node's root device hints name the disk; the lookup's `enable_bios_bootloader_install` allows BIOS installs. */
  session: Pick<Session, 'node' | 'biosBootloaderAllowed'>;
  /** `ipa-ignore-bootloader-failure`, used when the command's `ignore_bootloader_failure` is null. */
  ignoreBootloaderFailure: boolean;
}

/** IPA's `image` extension: `install_bootloader`, async, result null (ipa-protocol.md 4.1, 9.9). */
export function createImageExtension(deps: ImageExtensionDeps): Extension {
  return defineExtension('image', [{
    name: 'install_bootloader',
    mode: 'async',
    validate(params) {
      parseInstallBootloaderParams(params);
    },
    async run(params, ctx) {
      return installBootloader({
        system: deps.system, devices: deps.devices, log: ctx.log,
        node: deps.session.node ?? { uuid: 'unknown' },
        biosBootloaderAllowed: deps.session.biosBootloaderAllowed,
        ignoreFailureByDefault: deps.ignoreBootloaderFailure,
      }, parseInstallBootloaderParams(params));
    },
  }]);
}
