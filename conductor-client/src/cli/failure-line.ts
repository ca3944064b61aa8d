/**
 * A failure of `ingot-conductor` as one line for a person: what failed, on
 * which node, why (the error's chain, each cause said once), and what to try,
 * chosen by the most specific stable code in the chain. And the same failure
 * as `--json` carries it.
 */
import { IngotError, isIngotError, redactUrl, type ErrorCode } from '@ingot/protocol';
import { causeChain, describeFailure } from '@ingot/protocol/cli';

export interface FailureContext {
  nodeUuid: string;
  macs: readonly string[];
  /** The conductor's API URL (what the agent needs as ipa-api-url). */
  conductorUrl: string;
  /** The agent's callback URL, once it heartbeat. */
  agentUrl?: string;
  /** The deploy's image, when deploying. */
  image?: { url: string; algorithm?: string };
  /** The --raid-config file, when deploying onto software RAID. */
  raidConfigPath?: string;
  /** Where the ramdisk's logs of this failure were saved. */
  logsPath?: string;
  timeoutSeconds: number;
  verbose: boolean;
}

/** The stable codes of the chain, outermost first. */
export function codesOf(error: unknown): ErrorCode[] {
  return causeChain(error).filter((e): e is IngotError => isIngotError(e)).map((e) => e.code);
}

/**
 * What went wrong, once: the drivers' generic wrappers (Deploy step failed,
 * Clean step failed) by their details alone, since the line says already that
 * something failed; the rest of the chain as describeFailure says it.
 */
export function failureReason(error: unknown): string {
  const wrapper = isIngotError(error) && (error.code === 'INGOT_DEPLOYMENT_FAILED' || error.code === 'INGOT_CLEANING_FAILED') && error.details;
  if (!wrapper) return describeFailure(error);
  const cause = (error as Error).cause;
  const rest = cause === undefined ? '' : describeFailure(cause);
  return oneLine(rest && !error.details.includes(rest) ? `${error.details}: ${rest}` : error.details);
}

const flagHints: Partial<Record<ErrorCode, (context: FailureContext) => string>> = {
  INGOT_IMAGE_CHECKSUM: ({ image }) => `check --image-checksum against \`${image?.algorithm ?? 'sha256'}sum\` of the file as served at ${shownUrl(image?.url)} (the compressed file, if it is compressed)`,
  INGOT_IMAGE_CHECKSUM_SPEC: ({ image }) => `check --image-checksum: a checksum-file URL must be reachable from the agent and list the file ${shownUrl(image?.url)}`,
  INGOT_IMAGE_NOT_FOUND: ({ image }) => `check --image-url: nothing is served at ${shownUrl(image?.url)}`,
  INGOT_IMAGE_DOWNLOAD: ({ image }) => `check that the image server is up and that the agent can reach ${shownUrl(image?.url)} (--image-url)`,
  INGOT_IMAGE_STALLED: ({ image }) => `check the image server and the network between it and the agent (${shownUrl(image?.url)})`,
  INGOT_IMAGE_TIMEOUT: ({ image }) => `check the image server's speed, or serve a smaller or compressed image (${shownUrl(image?.url)})`,
  INGOT_IMAGE_REQUEST_REFUSED: ({ image }) => `check --image-url: the server refused ${shownUrl(image?.url)}`,
  INGOT_IMAGE_FORMAT: () => 'check --disk-format: raw for a raw image (also zstd, gzip or xz-compressed), qcow2 for qcow2, unknown to let the agent detect it',
  INGOT_IMAGE_TOO_LARGE: () => 'choose a larger disk with --root-device, or deploy a smaller image',
  INGOT_IMAGE_NO_SPACE: () => 'choose a larger disk with --root-device, or deploy a smaller image',
  INGOT_DEVICE_NOT_FOUND: () => 'check the --root-device hints against the disks the agent has (listed in its inventory and logs)',
  INGOT_AGENT_UNREACHABLE: ({ agentUrl }) => `check that the agent is still running and that this host can reach its callback URL${agentUrl ? ` ${agentUrl}` : ''}`,
  INGOT_TOKEN_INVALID: () => 'the agent holds another token (was it paired by another conductor?): restart the agent so that it looks the node up again',
  INGOT_HEARTBEAT_TOKEN_INVALID: () => 'restart the agent so that it looks the node up again',
  INGOT_AGENT_BUSY: () => 'the agent kept running another command: wait for it, or restart the agent',
  INGOT_RAID_CONFIG_INVALID: ({ raidConfigPath }) => `fix the logical disk named in the message in ${raidConfigPath ?? 'the target_raid_config'}; see README: Software RAID`,
  INGOT_RAID_FAILED: ({ logsPath }) => (logsPath ? `see mdadm's output in the ramdisk logs in ${logsPath}` : 'run again with --collect-logs on-failure for mdadm\'s output in the ramdisk logs'),
  INGOT_STEP_NOT_FOUND: ({ raidConfigPath }) => `boot a ramdisk whose agent offers the step named above${raidConfigPath ? ' (Ingot\'s agent offers raid.apply_configuration), or deploy without --raid-config' : ''}`,
};

function shownUrl(url: string | undefined): string {
  return url ? redactUrl(url) : 'the image URL';
}

/** What to try, from the most specific code in the chain that has a hint. */
export function failureHint(error: unknown, context: FailureContext): string {
  const codes = codesOf(error).reverse();
  for (const code of codes) {
    const hint = flagHints[code];
    if (hint) return hint(context);
  }
  if (context.logsPath) return `see the ramdisk logs in ${context.logsPath}`;
  return context.verbose ? 'see the log above' : 'run again with --verbose for the conductor\'s log';
}

/** Line breaks and control characters (from an agent's error, a path) as spaces: the line stays one line. */
const oneLine = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ').trim();

/** The one line after `ingot-conductor: ` (the stack on the next lines with verbose). */
export function failureLine(error: unknown, context: FailureContext): string {
  const reason = failureReason(error);
  const stack = context.verbose && error instanceof Error && error.stack ? error.stack.split('\n').slice(1) : [];
  return [oneLine(`node ${context.nodeUuid}: ${reason}; try: ${failureHint(error, context)}`), ...stack].join('\n');
}

export interface TimeoutContext extends FailureContext {
  /** What the conductor was waiting for: 'a lookup from the agent', 'the first heartbeat', 'step deploy.write_image'. */
  waitingFor: string;
  /** Whether the agent had looked up / heartbeat by then. */
  lookedUp: boolean;
  heartbeat: boolean;
}

/** The timeout as an error of the table, so that --json gives it a stable code too. */
export function timeoutError(context: TimeoutContext): IngotError {
  return new IngotError('INGOT_CONDUCTOR_TIMEOUT', { details: `after ${context.timeoutSeconds} s waiting for ${context.waitingFor}` });
}

export function timeoutHint(context: TimeoutContext): string {
  if (!context.lookedUp) {
    return `start the agent with --api-url ${context.conductorUrl} (ipa-api-url) on a machine with the MAC ${context.macs.join(' or ')}`;
  }
  if (!context.heartbeat) return 'the agent looked the node up but sent no heartbeat: see the agent\'s log (can it reach the conductor, did it bind its port?)';
  return `raise --timeout (now ${context.timeoutSeconds} s) if the run needs longer`;
}

export function timeoutLine(context: TimeoutContext): string {
  return oneLine(`node ${context.nodeUuid}: timed out after ${context.timeoutSeconds} s waiting for ${context.waitingFor}; try: ${timeoutHint(context)}`);
}

/** The error as `--json` carries it: the most specific code first, every code of the chain, the line and the hint. */
export function jsonError(error: unknown, hint: string): { code: ErrorCode | null; codes: ErrorCode[]; message: string; hint: string } {
  const codes = codesOf(error);
  return { code: codes.at(-1) ?? null, codes, message: failureReason(error), hint };
}
