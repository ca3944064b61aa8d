#!/usr/bin/env node
/**
 * `ingot-conductor clean|deploy`: the entry point, and the only place that
 * builds real things (logger, conductor, terminal output) from the command line.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { destination, pino } from 'pino';
import { IngotError, isIngotError } from '@ingot/protocol';
import { createReferenceConductor } from '../conductor/reference-conductor.ts';
import { readRescuePassword } from '../conductor/rescue-password.ts';
import { HELP, parseCliArgs, type CleanCommand, type DeployCommand, type RescueCommand } from './args.ts';
import { createProgressBar, type ProgressBar } from './progress-bar.ts';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Writes text as is, for the progress bar; default: through out(). */
  write?: (text: string) => void;
  /** Whether `write` goes to a terminal (the bar is then redrawn in place). Default false. */
  isTTY?: boolean;
  /** Where JSON logs go; default stderr. */
  logStream?: NodeJS.WritableStream;
}

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`),
  write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true,
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const MiB = 1024 * 1024;

async function provision(command: CleanCommand | DeployCommand | RescueCommand, io: CliIo, signal?: AbortSignal): Promise<number> {
  const rescuing = command.kind === 'rescue';
  const rescue = rescuing ? { password: readPasswordFile(command.rescuePasswordFile), requireHashed: command.requireHashedPassword } : undefined;
  const log = pino({ level: command.verbose ? 'debug' : 'warn', redact: { paths: ['token', '*.token', 'agent_token', '*.agent_token'], censor: '******' } }, io.logStream ?? destination(2));
  const deploying = command.kind === 'deploy';
  const conductor = await createReferenceConductor({
    listenHost: command.listenHost, port: command.port, log, requireTls: command.requireTls, pollIntervalMs: command.pollIntervalSeconds * 1000,
    collectLogs: command.collectLogs, logsDir: command.logsDir,
    nodes: [{
      uuid: command.nodeUuid, macs: command.macs, allowedAddresses: command.allow,
      ...(deploying ? { deploy: { image: command.image }, rootDevice: command.rootDevice, state: command.skipCleaning ? 'deploying' as const : 'cleaning' as const } : {}),
      ...(rescue ? { rescue } : {}),
    }],
  });
  const started = Date.now();
  let phase = 'a lookup from the agent';
  let lastProgress = '';
  let bar: ProgressBar | undefined;
  io.out(`listening on ${conductor.url} (give the agent ipa-api-url=${conductor.url})`);
  io.out(`waiting for the agent of node ${command.nodeUuid} (MAC ${command.macs.join(', ')})`);
  if (command.allow.length === 0 && !['127.0.0.1', '::1'].includes(command.listenHost)) io.out('note: no --allow given; any address may look this node up');
  conductor.on('lookup', (e) => { phase = 'the first heartbeat'; io.out(`lookup from ${e.remoteAddress ?? 'unknown address'}: ${e.tokenIssued ? 'token issued' : 'token already issued'}`); });
  conductor.on('heartbeat', (e) => {
    if (!e.first) return;
    phase = rescuing ? 'the agent to stop its API after finalize_rescue' : deploying && command.skipCleaning ? 'the deploy' : 'the clean steps';
    io.out(`agent ${e.agentVersion} paired, listening at ${e.callbackUrl}${e.callbackUrl.startsWith('https:') ? ' (TLS, certificate pinned)' : ''}`);
  });
  conductor.on('state', (e) => { if (e.state === 'deploying') io.out(`node ${e.uuid} is deploying ${deploying ? command.image.url : ''}`); });
  conductor.on('step-start', (e) => {
    phase = `step ${e.step.interface}.${e.step.step}`;
    if (e.phase === 'deploy') {
      io.out(`deploy step ${e.step.interface}.${e.step.step} started`);
      bar = createProgressBar({ output: { write: io.write ?? ((text) => io.out(text.replace(/\n$/, ''))), isTTY: io.isTTY ?? false }, label: '  image' });
      return;
    }
    io.out(`step ${e.index + 1}/${e.total} ${e.step.interface}.${e.step.step} (priority ${e.step.priority}) started`);
  });
  conductor.on('progress', (e) => {
    if (e.phase === 'deploy') return bar?.update(e.progress);
    const p = e.progress;
    if (!p) return;
    const line = `  ${p.stage}${p.done !== undefined ? `: ${p.done}${p.total !== undefined ? `/${p.total}` : ''}${p.unit ? ` ${p.unit}` : ''}` : ''}${p.message ? ` (${p.message})` : ''}`;
    if (line !== lastProgress) io.out(line);
    lastProgress = line;
  });
  conductor.on('step-done', (e) => {
    if (e.phase === 'deploy') {
      bar?.finish();
      bar = undefined;
      io.out(`deploy step ${e.step.interface}.${e.step.step} done in ${seconds(e.durationMs)}`);
      return;
    }
    io.out(`step ${e.index + 1}/${e.total} ${e.step.interface}.${e.step.step} done in ${seconds(e.durationMs)}`);
  });
  conductor.on('failed', () => { bar?.finish(); bar = undefined; });
  conductor.on('logs', ({ logs }) => {
    const what = `ramdisk logs at the end of ${logs.phase === 'clean' ? 'cleaning' : 'the deploy'} (${logs.bytes} bytes)`;
    io.out(logs.path ? `${what} saved to ${logs.path}` : `${what} collected but not saved to ${command.logsDir}; see the log`);
  });
  conductor.on('logs-failed', ({ error }) => io.err(`ingot-conductor: could not collect the ramdisk logs (carrying on): ${error.message}`));

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      bar?.finish();
      io.err(`ingot-conductor: timed out after ${command.timeoutSeconds} s waiting for ${phase}`);
      resolve(2);
    }, command.timeoutSeconds * 1000);
  });
  const aborted = new Promise<number>((resolve) => signal?.addEventListener('abort', () => { io.err('ingot-conductor: interrupted'); resolve(130); }, { once: true }));
  conductor.on('rescued', ({ report }) => {
    io.out(`finalize_rescue accepted (${report.hashed ? 'the password\'s SHA-512 crypt hash' : 'the plain password: the agent refused the hash'}); the agent stopped its API after ${seconds(report.durationMs)}`);
  });
  const rescued = !rescuing ? undefined : conductor.waitForRescue(command.nodeUuid).then(
    () => { io.out(`node ${command.nodeUuid} is rescued: log in on its console as "rescue" with the password`); return 0; },
    (error: unknown) => { io.err(`ingot-conductor: rescue failed: ${error instanceof Error ? error.message : String(error)}`); return 1; },
  );
  const cleaned = rescuing || (deploying && command.skipCleaning) ? undefined : conductor.waitForCleaning(command.nodeUuid).then(
    (report) => { io.out(`cleaning done: ${report.steps.length} step(s) in ${seconds(Date.now() - started)}`); return 0; },
    (error: unknown) => { io.err(`ingot-conductor: cleaning failed: ${error instanceof Error ? error.message : String(error)}`); return 1; },
  );
  const outcome = rescued ?? (!deploying ? cleaned! : Promise.all([cleaned, conductor.waitForDeployment(command.nodeUuid)]).then(
    ([, report]) => {
      const served = report.lastProgress?.total ?? report.lastProgress?.done;
      const rate = served && report.writeDurationMs > 0 ? ` (${(served / MiB / (report.writeDurationMs / 1000)).toFixed(1)} MiB/s served)` : '';
      io.out(`deploy done: image written and verified in ${seconds(report.writeDurationMs)}${rate}; root uuid ${report.rootUuid ?? 'none'}; ${report.poweredOff ? 'agent powering off' : 'power_off refused: power the node off out of band'}`);
      io.out(`node ${command.nodeUuid} is active after ${seconds(Date.now() - started)}`);
      return 0;
    },
    async (error: unknown) => {
      if (await cleaned === 1) return 1; // already reported
      io.err(`ingot-conductor: deploy failed: ${error instanceof Error ? error.message : String(error)}`);
      return 1;
    },
  ));
  try {
    return await Promise.race([outcome, timeout, aborted]);
  } finally {
    clearTimeout(timer);
    await conductor.close();
  }
}

/** The password from --rescue-password-file; a missing file is a usage error naming the file, never the password. */
function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `--rescue-password-file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
  }
  return readRescuePassword(text, `--rescue-password-file ${path}`);
}

/** Runs the CLI and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIo = stdio, signal?: AbortSignal): Promise<number> {
  try {
    const command = parseCliArgs(argv);
    if (command.kind === 'help') {
      io.out(HELP);
      return 0;
    }
    return await provision(command, io, signal);
  } catch (error) {
    if (isIngotError(error, 'INGOT_CONFIG_INVALID')) {
      io.err(`ingot-conductor: ${error.details}\nTry ingot-conductor --help.`);
      return 64;
    }
    io.err(`ingot-conductor: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  process.once('SIGTERM', () => interrupt.abort());
  process.exitCode = await runCli(process.argv.slice(2), stdio, interrupt.signal);
}
