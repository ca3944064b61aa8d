#!/usr/bin/env node
import { tmpdir } from 'node:os';
import pino from 'pino';
import { EXIT, runProgram } from '@ingot/protocol/cli';
import { AGENT_VERSION, createAgent } from './agent.ts';
import { createAgentProgram, type AgentCommandLine } from './cli-flags.ts';
import { parseKernelCmdline, resolveConfig, type AgentConfig } from './config.ts';
import { createBlockDevices } from './disks/create-block-devices.ts';
import { readDownloadSettings } from './deploy/download-settings.ts';
import { createGenericManager } from './generic-manager.ts';
import type { SnapshotDeps } from './snapshot/snapshot-deps.ts';
import { loadManagersFromDirectory } from './hardware/load-managers.ts';
import { createHostInventory } from './inventory/host-inventory.ts';
import { createMachineFileInventory } from './inventory/machine-file-inventory.ts';
import { createAgentLogging, resolveLogFormat } from './log.ts';
import { collectSystemLogs } from './logs/collect-system-logs.ts';
import { detectRamdisk, waitForInit } from './mode.ts';
import { createRamdiskPower, createSimulatedPower } from './power/power-control.ts';
import { RAMDISK_RESCUED_MARKER } from './rescue/rescue-files.ts';
import { createDeviceGuard } from './system/device-guard.ts';
import { createSession, type Session } from './session/session.ts';
import { createRealSystem } from './system/real-system.ts';
import { setUpVirtualMedia } from './vmedia/set-up-virtual-media.ts';
import { checkCommandLinePaths, refuseInvalidConfig } from './usage-checks.ts';

/** Whether a failure shows its stack: --debug, -v/--verbose, or ipa-debug=1 once the kernel's parameters are read. */
let verbose = false;

async function main(commandLine: AgentCommandLine): Promise<void> {
  const settingFlags = commandLine.flags;
  verbose = commandLine.verbose;
  const probe = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });
  const inRamdisk = await detectRamdisk(probe);
  // A rescued ramdisk belongs to the rescue user: a restarted agent must not touch its network (virtual media) either.
  if (inRamdisk && await probe.exists(RAMDISK_RESCUED_MARKER)) {
    process.stdout.write(`ingot-agent: this node is rescued (${RAMDISK_RESCUED_MARKER} exists): not serving the API; log in as rescue\n`);
    process.exit(0);
  }
  // Outside the ramdisk /proc/cmdline is the host's: only flags configure the agent.
  const cmdline = inRamdisk ? parseKernelCmdline(await probe.readText('/proc/cmdline')) : {};
  // /init may still be loading modules and choosing between DHCP and a configuration device.
  let initWaitSeconds = 0;
  if (inRamdisk) {
    const waitStarted = performance.now();
    await waitForInit({
      path: process.env.INGOT_INIT_READY,
      exists: (path) => probe.exists(path),
      onSlow: (ms) => process.stderr.write(`ingot-agent: still waiting for /init to settle the network (${Math.round(ms / 1000)} s)\n`),
    });
    initWaitSeconds = (performance.now() - waitStarted) / 1000;
  }
  // Inside the ramdisk only: virtual media (reference 10.3) adds parameters over the kernel's and configures the network.
  const vmedia = inRamdisk
    ? await setUpVirtualMedia({ system: createRealSystem({ guard: createDeviceGuard({ mode: 'ramdisk' }) }), kernel: cmdline })
    : undefined;
  const kernel = vmedia?.params ?? cmdline;
  const config: AgentConfig = refuseInvalidConfig(() => resolveConfig({ kernel, flags: settingFlags }));
  await checkCommandLinePaths({ config, inRamdisk, system: probe });
  verbose ||= config.debug;

  // The session comes later (it logs through this logger); its token is hidden in every line from then on.
  let session: Session | undefined;
  const logging = createAgentLogging({
    format: resolveLogFormat(config.logFormat, { stdoutIsTty: process.stdout.isTTY === true, inRamdisk }),
    level: config.debug ? 'debug' : 'info',
    stacks: config.debug,
    stdout: process.stdout,
    file: config.logFile ? pino.destination({ dest: config.logFile, mkdir: true, sync: false }) : undefined,
    secrets: () => [config.agentToken, session?.token],
    noColor: Boolean(process.env.NO_COLOR),
  });
  const log = logging.log;

  const guard = inRamdisk ? createDeviceGuard({ mode: 'ramdisk' }) : createDeviceGuard({ mode: 'sandbox', disks: config.disk ?? [] });
  if (inRamdisk) {
    // Seconds since the kernel started, and how much of it was Node's own start: the boot budget's last parts.
    const uptime = Number((await probe.readText('/proc/uptime')).split(' ')[0]);
    log.info({ uptimeSeconds: uptime, processSeconds: Number(process.uptime().toFixed(2)), initWaitSeconds: Number(initWaitSeconds.toFixed(2)) }, 'running inside the Ingot ramdisk: every disk of this machine may be used');
  }
  else log.warn({ disks: guard.disks }, `sandbox mode (not inside the Ingot ramdisk): only the ${guard.disks.length} disk(s) given with --disk will be touched; the host's own disks are invisible, and power actions are simulated`);

  if (vmedia?.report) log.info({ vmedia: vmedia.report }, 'configuration taken from virtual media');

  const system = createRealSystem({ guard, log });
  // Whatever ends the process (a signal, a failure, rescue), the temporary directories it made go with it.
  process.once('exit', () => system.removeTempDirsSync());
  const devices = createBlockDevices({ system, guard });
  const inventory = config.machine
    ? createMachineFileInventory({ path: config.machine, devices, system })
    : createHostInventory({ system, devices, kernelParams: kernel });
  session = createSession({ presetToken: config.agentToken, log });
  const caPem = config.caFile ? await system.readText(config.caFile) : undefined;
  const download = readDownloadSettings(config, caPem);
  const snapshot: SnapshotDeps = { agentVersion: AGENT_VERSION, caPem };
  const managers = [createGenericManager({ deploy: { session, download }, snapshot }), ...(config.managerDir ? await loadManagersFromDirectory(config.managerDir, system) : [])];
  // Outside the ramdisk without --state-dir nothing is kept on disk: the TLS key stays in memory (a SIGKILL leaves no key behind).
  const stateDir = config.stateDir ?? (inRamdisk ? '/run/ingot' : undefined);
  let scratch: Promise<string> | undefined;

  const agent = createAgent({
    config, log, system, devices, inventory, session, managers, download, caPem, stateDir, version: AGENT_VERSION, snapshot,
    scratchDir: () => (scratch ??= system.createTempDir(tmpdir(), 'ingot-agent-')),
    power: inRamdisk ? createRamdiskPower(system, log) : createSimulatedPower(log),
    collectLogs: () => collectSystemLogs({ system, log, agentLogPath: config.logFile, sandboxDisks: inRamdisk ? undefined : guard.disks }),
    // After finalize_rescue (and on a rescued node): the ramdisk's init then sets up the rescue login.
    exit: (code) => {
      logging.flushSync(); // the log file (--log-file) writes asynchronously; its last lines say why the agent ends
      process.exit(code);
    },
  });
  // Interrupted (EXIT.interrupted, 130) once the API is closed; the exit handler above removes what was temporary.
  // A second signal, or a stop that hangs, ends it at once, still through that handler.
  let stopping = false;
  const shutdown = (signal: string) => {
    const end = () => {
      logging.flushSync();
      process.exit(EXIT.interrupted);
    };
    if (stopping) return end();
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(end, 5_000).unref();
    void agent.stop().then(end, end);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  await agent.start();
  await agent.done;
}

const program = createAgentProgram({ version: AGENT_VERSION, run: main });
process.exitCode = await runProgram(program, process.argv.slice(2), { name: 'ingot-agent', verbose: () => verbose });
