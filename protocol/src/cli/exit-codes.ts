/**
 * One exit-code table for every Ingot command (agent, conductor, image-build,
 * the demo), printed at the end of each `--help` and in the README.
 */
export const EXIT = {
  /** The operation succeeded (also `--help` and `--version`). */
  ok: 0,
  /** The operation was tried and failed (a step, a deploy, a timeout, a refused port). */
  failed: 1,
  /** The command line was wrong: an unknown flag, a bad value, a missing argument. Nothing was done. */
  usage: 2,
  /** Interrupted by SIGINT or SIGTERM (128 + 2, as shells report it); cleaned up before exiting. */
  interrupted: 130,
} as const;

export const EXIT_STATUS_HELP = `Exit status:
  0    success
  1    the operation failed (one line on stderr: what, where, what to try)
  2    usage error: a bad flag or value; nothing was done
  130  interrupted (Ctrl-C or SIGTERM); temporary files are removed first`;
