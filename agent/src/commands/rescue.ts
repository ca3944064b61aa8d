import { cryptSha512 } from '@ingot/protocol';
import { parseFinalizeRescueParams } from '../rescue/rescue-password.ts';
import { writeRescueFiles, type RescuePaths } from '../rescue/rescue-files.ts';
import type { System } from '../system/system.ts';
import { defineExtension, type Extension } from './command.ts';

export interface RescueExtensionDeps {
  system: System;
  /** Where the files go; asked when finalize_rescue runs (outside the ramdisk the directory may be made then). */
  paths(): Promise<RescuePaths>;
  /** The files are written and the reply is on its way: stop the API once it is sent, then end the process. */
  onFinalized(): void;
}

/**
 * IPA's `rescue` extension: `finalize_rescue` (sync, result null;
 * ipa-protocol.md 4.1, 4.2). The password is crypted here with SHA-512 when
 * it comes plain; it never reaches a log line or the command's result.
 * Ironic requires the reply to be SUCCEEDED, so the API stops only after it.
 */
export function createRescueExtension(deps: RescueExtensionDeps): Extension {
  return defineExtension('rescue', [{
    name: 'finalize_rescue',
    mode: 'sync',
    validate: (params) => { parseFinalizeRescueParams(params); },
    async run(params, ctx) {
      const { rescuePassword, hashed } = parseFinalizeRescueParams(params);
      const hash = hashed ? rescuePassword : cryptSha512(rescuePassword);
      const paths = await deps.paths();
      await writeRescueFiles(deps.system, paths, hash);
      ctx.log.info({ passwordFile: paths.passwordFile, marker: paths.marker, hashedByConductor: hashed }, 'rescue password written');
      deps.onFinalized();
      return null;
    },
  }]);
}
