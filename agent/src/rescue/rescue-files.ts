import type { System } from '../system/system.ts';

/**
 * Where a finalized rescue leaves its traces; the ramdisk's init reads them
 * to create the `rescue` user (ipa-protocol.md 4.2, 10.2).
 */
export interface RescuePaths {
  /** The directory holding the password file. */
  dir: string;
  /** One line: the crypt hash of the rescue password, mode 0600. */
  passwordFile: string;
  /** Exists once the node is rescued: a restarted agent then does not serve its API. */
  marker: string;
}

/** The marker inside the ramdisk, where IPA puts it. */
export const RAMDISK_RESCUED_MARKER = '/etc/.rescued';

/** The file name IPA's rescue element reads. */
export const RESCUE_PASSWORD_FILE = 'ipa-rescue-password';

/**
 * IPA's own paths inside the ramdisk (`/etc/ipa-rescue-config`, `/etc/.rescued`);
 * the same names under the agent's state directory elsewhere, since the agent
 * never writes this machine's /etc outside its ramdisk.
 */
export function rescuePaths(options: { ramdisk: boolean; stateDir: string }): RescuePaths {
  const root = options.ramdisk ? '/etc' : options.stateDir.replace(/\/+$/, '');
  const dir = `${root}/ipa-rescue-config`;
  return { dir, passwordFile: `${dir}/${RESCUE_PASSWORD_FILE}`, marker: options.ramdisk ? RAMDISK_RESCUED_MARKER : `${root}/.rescued` };
}

/** Writes the hash (and a newline) readable by root only, then the marker: the marker means the password is in place. */
export async function writeRescueFiles(system: System, paths: RescuePaths, hash: string): Promise<void> {
  await system.makeDir(paths.dir, { mode: 0o700 });
  await system.writeText(paths.passwordFile, `${hash}\n`, { mode: 0o600 });
  await system.writeText(paths.marker, '', { mode: 0o644 });
}

export function isRescued(system: System, paths: RescuePaths): Promise<boolean> {
  return system.exists(paths.marker);
}
