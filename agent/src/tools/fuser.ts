/**
 * fuser (psmisc): which processes hold a device open. IPA waits on it after a
 * metadata erase so that the next step does not find the disk busy (7.3).
 */

/** `-s` would hide the PIDs we want to log; stderr is noise where /proc is partly hidden, so callers ignore it. */
export function fuserArgv(paths: readonly string[]): string[] {
  return ['fuser', ...paths];
}

/**
 * fuser exits 0 when some process holds one of the paths and 1 when none does
 * (or on a path it cannot check, which a caller then sees as idle: the
 * re-read and the verification that follow are the real checks).
 */
export function isHeld(exitCode: number): boolean {
  return exitCode === 0;
}

/** fuser prints bare PIDs on stdout (the path and access letters go to stderr). */
export function parseFuserPids(stdout: string): number[] {
  return stdout.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number);
}
