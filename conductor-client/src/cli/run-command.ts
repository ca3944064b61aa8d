/**
 * One run of `ingot-conductor clean|deploy|rescue|snapshot`: the reference conductor
 * with one node, narrated line by line as the agent pairs and each step runs
 * (stdout; stderr with --json, whose one object is then all of stdout), the
 * image write as a progress bar, and the end as the exit status: 0 done, 1
 * failed or timed out (one line on stderr: what, where, why, what to try),
 * 130 interrupted.
 */
import { IngotError, type CommandProgress, type StepRequest } from '@ingot/protocol';
import { createProgressBar, describeFailure, EXIT, UsageError, type ProgressBar } from '@ingot/protocol/cli';
import type { Logger } from 'pino';
import { createReferenceConductor, type ReferenceConductor } from '../conductor/reference-conductor.ts';
import { describeRootDisk } from '../conductor/root-disk.ts';
import { describeRaidResult } from '../conductor/raid-step.ts';
import type { DeployImage } from '../conductor/image-info.ts';
import type { SnapshotStore } from '../snapshot/snapshot-store.ts';
import type { CliCommand, DeployCommand } from './args.ts';
import { cleaningResult, deployResult, rescueResult, snapshotResult, toSeconds, type CliOutcome, type CliResult } from './cli-result.ts';
import { failureHint, failureLine, jsonError, timeoutError, timeoutHint, timeoutLine, type FailureContext, type TimeoutContext } from './failure-line.ts';

export interface CliIo {
  /** The narrative and, with --json, the result object: stdout. */
  out: (line: string) => void;
  /** The failure line and warnings: stderr. */
  err: (line: string) => void;
  /** Writes text as is, for the progress bar; default: through out(). */
  write?: (text: string) => void;
  /** Whether `write` goes to a terminal (the bar is then redrawn in place). Default false. */
  isTTY?: boolean;
  /** The terminal's width for the bar. */
  columns?: number;
  /** With --verbose, where the log goes (default stderr) and whether it is a terminal (readable form). */
  logStream?: NodeJS.WritableStream;
  logIsTTY?: boolean;
}

/** A command ready to run: a deploy's image is known (main resolves `--snapshot` first). */
export type RunnableCommand = Exclude<CliCommand, DeployCommand> | (DeployCommand & { image: DeployImage });

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const isImageWrite = (step: StepRequest) => step.interface === 'deploy' && step.step === 'write_image';

/**
 * A step's command_progress as one narrative line: `  erase_devices_metadata:
 * 1/2 devices`, `  software RAID resync: 512/2048 KiB (/dev/md0 (root): resync
 * 25%, ...)`. Text from the agent is kept to one line, whatever it sends.
 */
function progressLine(p: CommandProgress): string {
  const figures = p.done !== undefined ? `: ${p.done}${p.total !== undefined ? `/${p.total}` : ''}${p.unit ? ` ${p.unit}` : ''}` : '';
  return `  ${p.stage}${figures}${p.message ? ` (${p.message})` : ''}`.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
}
const MiB = 1024 * 1024;

/** Runs the command and returns the exit status; throws only what the convention maps (UsageError). */
export async function runConductorCommand(
  command: RunnableCommand, io: CliIo, log: Logger, signal?: AbortSignal, rescuePassword?: string, snapshotStore?: SnapshotStore,
): Promise<number> {
  const started = Date.now();
  // With --json stdout holds the result alone; a person watching still reads the narrative on stderr.
  const say = command.json ? io.err : io.out;
  const fail = (line: string) => io.err(`ingot-conductor: ${line}`);
  const result: CliResult = {
    command: command.kind, outcome: 'failed', exit_status: EXIT.failed, node: { uuid: command.nodeUuid, state: null }, duration_s: 0,
    agent: null, cleaning: null, deploy: null, rescue: null, snapshot: null, logs: [], error: null,
  };
  // The first of success, failure, timeout and interrupt ends the run; what settles after (a driver aborted by close()) is not reported.
  let ended = false;
  const finish = (outcome: CliOutcome, status: number, conductor?: ReferenceConductor): number => {
    ended = true;
    Object.assign(result, { outcome, exit_status: status, duration_s: toSeconds(Date.now() - started) });
    result.node.state = conductor?.state(command.nodeUuid) ?? null;
    if (command.json) io.out(JSON.stringify(result));
    return status;
  };

  const deploying = command.kind === 'deploy';
  const rescuing = command.kind === 'rescue';
  const snapshotting = command.kind === 'snapshot';
  if (snapshotting && !snapshotStore) throw new UsageError('snapshot needs a store (--store)');
  let conductor: ReferenceConductor;
  try {
    conductor = await createReferenceConductor({
      listenHost: command.listenHost, port: command.port, log, requireTls: command.requireTls, pollIntervalMs: command.pollIntervalSeconds * 1000,
      collectLogs: command.collectLogs, logsDir: command.logsDir,
      nodes: [{
        uuid: command.nodeUuid, macs: command.macs, allowedAddresses: command.allow,
        ...(deploying ? { deploy: { image: command.image }, rootDevice: command.rootDevice, state: command.skipCleaning ? 'deploying' as const : 'cleaning' as const } : {}),
        ...(deploying && command.raidConfig ? { raidConfig: command.raidConfig.config } : {}),
        ...(rescuing && rescuePassword !== undefined ? { rescue: { password: rescuePassword, requireHashed: command.requireHashedPassword } } : {}),
        ...(command.kind === 'snapshot' ? {
          rootDevice: command.rootDevice,
          snapshot: {
            store: snapshotStore!, timeoutMs: command.timeoutSeconds * 1000,
            capture: { ...(command.device ? { device: command.device } : {}), ...(command.rootDevice ? { root_device_hints: command.rootDevice } : {}), ...(command.partitions ? { partitions: command.partitions } : {}) },
          },
        } : {}),
      }],
    });
  } catch (error) {
    const hint = 'choose another --listen (is another conductor already serving there?)';
    fail(`cannot serve the API on ${command.listenHost}:${command.port}: ${describeFailure(error, { verbose: command.verbose })}; try: ${hint}`);
    result.error = jsonError(error, hint);
    return finish('failed', EXIT.failed);
  }

  const context: FailureContext = {
    nodeUuid: command.nodeUuid, macs: command.macs, conductorUrl: conductor.url, timeoutSeconds: command.timeoutSeconds, verbose: command.verbose,
    ...(deploying ? { image: { url: command.image.url, algorithm: 'algorithm' in command.image.checksum ? command.image.checksum.algorithm : undefined } } : {}),
    ...(deploying && command.raidConfig ? { raidConfigPath: command.raidConfig.path } : {}),
  };
  const timeout: TimeoutContext = { ...context, waitingFor: 'a lookup from the agent', lookedUp: false, heartbeat: false };
  let lastProgress = '';
  let bar: ProgressBar | undefined;
  const endBar = () => { bar?.finish(); bar = undefined; };

  say(`listening on ${conductor.url} (give the agent ipa-api-url=${conductor.url})`);
  say(`waiting for the agent of node ${command.nodeUuid} (MAC ${command.macs.join(', ')})`);
  if (command.allow.length === 0 && !['127.0.0.1', '::1'].includes(command.listenHost)) say('note: no --allow given; any address may look this node up');
  conductor.on('lookup', (e) => {
    Object.assign(timeout, { lookedUp: true, waitingFor: 'the first heartbeat' });
    say(`lookup from ${e.remoteAddress ?? 'unknown address'}: ${e.tokenIssued ? 'token issued' : 'token already issued'}`);
  });
  conductor.on('heartbeat', (e) => {
    if (!e.first) return;
    Object.assign(timeout, {
      heartbeat: true,
      waitingFor: rescuing ? 'the agent to stop its API after finalize_rescue' : snapshotting ? 'the snapshot' : deploying && command.skipCleaning ? 'the deploy' : 'the clean steps',
    });
    context.agentUrl = e.callbackUrl;
    result.agent = { version: e.agentVersion, callback_url: e.callbackUrl };
    say(`agent ${e.agentVersion} paired, listening at ${e.callbackUrl}${e.callbackUrl.startsWith('https:') ? ' (TLS, certificate pinned)' : ''}`);
  });
  conductor.on('state', (e) => { if (e.state === 'deploying' && deploying) say(`node ${e.uuid} is deploying ${command.image.url}`); });
  conductor.on('step-start', (e) => {
    timeout.waitingFor = `step ${e.step.interface}.${e.step.step}`;
    if (e.phase === 'deploy' && !isImageWrite(e.step)) {
      // The RAID build: the agent's progress (members partitioned, arrays created) as lines, like a clean step's; the resync comes after the image.
      say(`deploy step ${e.step.interface}.${e.step.step} started${command.kind === 'deploy' && command.raidConfig ? ` (${command.raidConfig.path})` : ''}`);
      return;
    }
    if (e.phase === 'deploy') {
      say(`deploy step ${e.step.interface}.${e.step.step} started`);
      // With --json the bar goes with the narrative, to stderr, as plain lines.
      const output = command.json
        ? { write: (text: string) => io.err(text.replace(/\n$/, '')), isTTY: false }
        : { write: io.write ?? ((text: string) => io.out(text.replace(/\n$/, ''))), isTTY: io.isTTY ?? false, columns: io.columns };
      bar = createProgressBar({ output, label: '  image' });
      return;
    }
    say(`step ${e.index + 1}/${e.total} ${e.step.interface}.${e.step.step} (priority ${e.step.priority}) started`);
  });
  let imageWritten = false;
  conductor.on('progress', (e) => {
    if (e.phase === 'deploy' && isImageWrite(e.step)) return bar?.update(e.progress);
    // The RAID step's status read once more after the image: the arrays' resync goes on in the background.
    if (e.phase === 'deploy' && imageWritten && e.progress) return say(`  once the image was written: ${progressLine(e.progress).trimStart()}`);
    const line = e.progress ? progressLine(e.progress) : undefined;
    if (line === undefined || line === lastProgress) return;
    say(line);
    lastProgress = line;
  });
  conductor.on('step-done', (e) => {
    if (e.phase === 'deploy' && !isImageWrite(e.step)) {
      say(`deploy step ${e.step.interface}.${e.step.step} done in ${seconds(e.durationMs)}: ${describeRaidResult(e.result)}`);
      return;
    }
    if (e.phase === 'deploy') {
      imageWritten = true;
      endBar();
      say(`deploy step ${e.step.interface}.${e.step.step} done in ${seconds(e.durationMs)}`);
      return;
    }
    say(`step ${e.index + 1}/${e.total} ${e.step.interface}.${e.step.step} done in ${seconds(e.durationMs)}`);
  });
  conductor.on('failed', () => endBar());
  conductor.on('snapshot-progress', ({ event }) => {
    if (event.type === 'prepared') {
      const urls = event.segmentSize === null ? 'one PUT URL' : `${event.urls} ${event.target === 's3' ? 'part' : 'segment'} URLs of ${event.segmentSize / MiB} MiB`;
      say(`snapshot of ${event.rawBytes} bytes at most to ${snapshotStore!.location}: ${urls} signed`);
      return;
    }
    if (event.type === 'progress') {
      if (!event.progress) return;
      bar ??= createProgressBar({
        output: command.json
          ? { write: (text: string) => io.err(text.replace(/\n$/, '')), isTTY: false }
          : { write: io.write ?? ((text: string) => io.out(text.replace(/\n$/, ''))), isTTY: io.isTTY ?? false, columns: io.columns },
        label: '  disk',
      });
      bar.update(event.progress);
      return;
    }
    if (event.type === 'captured') {
      endBar();
      const { manifest } = event.result;
      say(`captured ${manifest.raw.bytes} bytes of ${manifest.source.device} into ${manifest.image.bytes} bytes (${manifest.image.frames} frames) in ${seconds(event.result.duration_ms)}; ${event.result.segments.length || 'no'} segment(s) uploaded`);
      return;
    }
    if (event.type === 'completed') return say(`object completed; manifest stored beside it`);
    endBar();
    if (event.error) io.err(`ingot-conductor: warning: could not remove the partial upload at ${snapshotStore!.location}: ${describeFailure(event.error)}; remove it by hand`);
    else say(`upload abandoned: nothing left at ${snapshotStore!.location}`);
  });
  conductor.on('logs', ({ logs }) => {
    const what = `ramdisk logs at the end of ${logs.phase === 'clean' ? 'cleaning' : 'the deploy'} (${logs.bytes} bytes)`;
    if (logs.path) {
      result.logs.push(logs.path);
      if (logs.outcome === 'failure') context.logsPath = logs.path;
    }
    say(logs.path ? `${what} saved to ${logs.path}` : `${what} collected but not saved to ${command.logsDir} (the warning above says why)`);
  });
  conductor.on('logs-failed', ({ error }) => io.err(`ingot-conductor: warning: could not collect the ramdisk logs (carrying on): ${describeFailure(error)}`));
  conductor.on('done', ({ report }) => {
    result.cleaning = cleaningResult(report);
    say(`cleaning done: ${report.steps.length} step(s) in ${seconds(Date.now() - started)}`);
  });
  conductor.on('rescued', ({ report }) => {
    result.rescue = rescueResult(report);
    say(`finalize_rescue accepted (${report.hashed ? 'the password\'s SHA-512 crypt hash' : 'the plain password: the agent refused the hash'}); the agent stopped its API after ${seconds(report.durationMs)}`);
  });

  const succeeded = async (): Promise<number> => {
    if (rescuing) {
      await conductor.waitForRescue(command.nodeUuid);
      say(`node ${command.nodeUuid} is rescued: log in on its console as "rescue" with the password`);
      return EXIT.ok;
    }
    if (command.kind === 'snapshot') {
      const report = await conductor.waitForSnapshot(command.nodeUuid);
      result.snapshot = snapshotResult(report);
      say(`snapshot done in ${seconds(report.durationMs)}: raw sha256 ${report.manifest.raw.sha256}, image sha256 ${report.manifest.image.sha256}`);
      // The manifest is the result: on stdout as JSON, unless --json carries it inside the result object.
      if (!command.json) io.out(JSON.stringify(report.manifest, null, 2));
      return EXIT.ok;
    }
    if (!deploying) {
      await conductor.waitForCleaning(command.nodeUuid);
      return EXIT.ok;
    }
    const report = await conductor.waitForDeployment(command.nodeUuid);
    result.deploy = deployResult(command.image.url, report);
    const served = report.lastProgress?.total ?? report.lastProgress?.done;
    const rate = served && report.writeDurationMs > 0 ? ` (${(served / MiB / (report.writeDurationMs / 1000)).toFixed(1)} MiB/s served)` : '';
    say(`deploy done: image written and verified in ${seconds(report.writeDurationMs)}${rate}; ${report.device ? `${report.device}: ` : ''}${describeRootDisk(report)}; ${report.poweredOff ? 'agent powering off' : 'power_off refused: power the node off out of band'}`);
    say(`node ${command.nodeUuid} is active after ${seconds(Date.now() - started)}`);
    return EXIT.ok;
  };
  const outcome = succeeded().then(
    (status) => (ended ? status : finish('succeeded', status, conductor)),
    (error: unknown) => {
      if (ended) return EXIT.failed;
      endBar();
      fail(failureLine(error, context));
      result.error = jsonError(error, failureHint(error, context));
      return finish('failed', EXIT.failed, conductor);
    },
  );

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      if (ended) return;
      endBar();
      fail(timeoutLine(timeout));
      result.error = jsonError(timeoutError(timeout), timeoutHint(timeout));
      resolve(finish('timed out', EXIT.failed, conductor));
    }, command.timeoutSeconds * 1000);
  });
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<number>((resolve) => {
    onAbort = () => {
      if (ended) return;
      endBar();
      const state = conductor.state(command.nodeUuid);
      fail(`interrupted; node ${command.nodeUuid} was ${state ?? 'not enrolled'}${timeout.heartbeat ? ', its agent still up' : ''}`);
      result.error = { code: null, codes: [], message: 'interrupted', hint: '' };
      resolve(finish('interrupted', EXIT.interrupted, conductor));
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([outcome, timedOut, aborted]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    endBar();
    await conductor.close();
  }
}

/** A refused rescue password file is a usage error naming the file, never the password. */
export function passwordFileError(path: string, error: unknown): UsageError {
  const reason = error instanceof IngotError ? error.details : (error as NodeJS.ErrnoException).code ?? describeFailure(error);
  return new UsageError(`--rescue-password-file ${path}: ${reason}`);
}
