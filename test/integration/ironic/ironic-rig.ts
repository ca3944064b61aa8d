import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';
import { installAgentTokenAudit } from './agent-token-audit.ts';
import { prepareUsedDisks } from './disk-files.ts';
import { findFreePort } from './free-port.ts';
import { createIronicApi, type IronicApi, type IronicNode } from './ironic-api.ts';
import { checkIronicInstalled, IRONIC_INSTALL_HINT, startIronic, SYSTEM_PYTHON, type IronicServer } from './ironic-server.ts';
import { checkNginxInstalled, startImageServer, type ImageServer } from '../../support/nginx-image-server.ts';
import { createWholeDiskImage, type WholeDiskImage } from '../../support/whole-disk-image.ts';

/**
 * What every suite that runs Debian's Ironic against the agent process
 * sets up: a simulated machine (two used disk files and a machine file with
 * one MAC), Debian's nginx serving a whole-disk image, Ironic on a port and
 * state directory of its own, and the node enrolled with one port. The agent
 * is started by the suite, at the moment its scenario needs.
 */
export interface IronicRigOptions {
  /** Names the work directory and the node. */
  label: string;
  fastTrack: boolean;
  /** [agent]require_tls: only an HTTPS callback (the agent's automatic TLS) is accepted. */
  requireTls: boolean;
  /** [api]ramdisk_heartbeat_timeout: the agent heartbeats every 0.3-0.6x of it. */
  heartbeatTimeout: number;
  /** [deploy]fast_track_timeout. */
  fastTrackTimeout?: number;
  bootMode: 'bios' | 'uefi';
  diskMiB: number;
  imageMiB: number;
}

export interface IronicRig {
  readonly workDir: string;
  readonly mac: string;
  /** disks[1] receives the image (root device hint); disks[0] must stay as cleaning left it. */
  readonly disks: string[];
  readonly image: WholeDiskImage;
  readonly images: ImageServer;
  readonly ironic: IronicServer;
  readonly api: IronicApi;
  readonly node: IronicNode;
  /** The agent's own log file (--log-file), which log.collect_system_logs packs. */
  readonly agentLogFile: string;
  /** Every agent_url the test's polls saw on the node. */
  readonly callbackUrls: Set<string>;
  agent: AgentProcess | undefined;
  startAgent(): AgentProcess;
  readonly agentListenPort: number;
  /** Waits for `wanted`, failing early if the agent dies and naming what Ironic refused. */
  waitForState(wanted: string, timeoutMs: number): Promise<IronicNode>;
  /** Ironic's, the agent's and nginx's logs on stderr, once per suite (later failures mostly share the cause). */
  printLogs(): Promise<void>;
  /** Stops everything; keeps the work directory after printLogs or with INGOT_KEEP_TEST_FILES. */
  stop(): Promise<void>;
}

/** What the rig lacks here (Debian's Ironic, nginx) and how to install it, or null when it can run. */
export async function findMissingForIronicRig(): Promise<string | null> {
  const ironicMissing = await checkIronicInstalled();
  if (ironicMissing !== null) return `python3-ironic is not importable by ${SYSTEM_PYTHON} (${ironicMissing}); run: ${IRONIC_INSTALL_HINT}`;
  return checkNginxInstalled();
}

/**
 * Sets the rig up; whatever started is stopped again when a later part
 * fails, and the work directory is kept for a look.
 */
export async function startIronicRig(options: IronicRigOptions): Promise<IronicRig> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), `ingot-${options.label}-`));
  const mac = randomLocalMac();
  let images: ImageServer | undefined;
  let ironic: IronicServer | undefined;
  try {
    const disks = await prepareUsedDisks(workDir, options.diskMiB);
    const machineFile = await writeMachineFile(workDir, mac);

    // The image server: the whole-disk image, and the deploy kernel and
    // ramdisk that the pxe boot interface fetches (and caches) before every
    // cleaning and deploy; nothing boots them here, so any bytes do.
    const wwwRoot = path.join(workDir, 'www');
    await mkdir(wwwRoot);
    const image = await createWholeDiskImage(path.join(wwwRoot, 'disk.img'), options.imageMiB);
    await writeFile(path.join(wwwRoot, 'deploy.kernel'), 'not a kernel\n');
    await writeFile(path.join(wwwRoot, 'deploy.initramfs'), 'not an initramfs\n');
    images = await startImageServer({ root: wwwRoot, stateDir: path.join(workDir, 'nginx'), log: (line) => console.log(`[nginx] ${line}`) });

    ironic = await startIronic({
      stateDir: path.join(workDir, 'ironic'),
      fastTrack: options.fastTrack,
      fastTrackTimeout: options.fastTrackTimeout,
      heartbeatTimeout: options.heartbeatTimeout,
      requireTls: options.requireTls,
      log: (line) => console.log(`[ironic] ${line}`),
    });
    await installAgentTokenAudit(ironic.databasePath);
    const api = createIronicApi(ironic.url);

    const node = await api.createNode({
      name: `${options.label}-${mac.replaceAll(':', '')}`, memoryMb: 2048, cpuArch: 'x86_64', localGb: 1,
      driverInfo: { deploy_kernel: `${images.url}/deploy.kernel`, deploy_ramdisk: `${images.url}/deploy.initramfs` },
      properties: {
        capabilities: `boot_mode:${options.bootMode}`,
        // The second disk receives the image; the first must stay untouched.
        // Both are far below IPA's 4 GiB minimum for a disk chosen without hints.
        root_device: { name: disks[1] },
      },
    });
    await api.createPort(node.uuid, mac);
    const agentListenPort = await findFreePort({ avoid: [ironic.port, images.port, 8080] });
    return assembleRig({ workDir, mac, disks, machineFile, image, images, ironic, api, node, agentListenPort });
  } catch (error) {
    await ironic?.stop();
    await images?.stop();
    console.error(`[kept] ${workDir}`);
    throw error;
  }
}

interface RigParts {
  workDir: string;
  mac: string;
  disks: string[];
  machineFile: string;
  image: WholeDiskImage;
  images: ImageServer;
  ironic: IronicServer;
  api: IronicApi;
  node: IronicNode;
  agentListenPort: number;
}

function assembleRig(parts: RigParts): IronicRig {
  const { workDir, ironic, images, api, node } = parts;
  let logsPrinted = false;
  const rig: IronicRig = {
    ...parts,
    agentLogFile: path.join(workDir, 'agent-file.log'),
    callbackUrls: new Set<string>(),
    agent: undefined,

    startAgent() {
      if (rig.agent) throw new Error('the agent is already running; the suites run one agent process per node');
      rig.agent = startAgentProcess({
        apiUrl: ironic.url,
        disks: parts.disks,
        machineFile: parts.machineFile,
        listenPort: parts.agentListenPort,
        stateDir: path.join(workDir, 'agent-state'),
        logPath: path.join(workDir, 'agent.log'),
        lookupTimeoutSeconds: 300,
        extraArgs: ['--debug', '--log-file', rig.agentLogFile],
        // To check another build of the agent against Ironic.
        ...(process.env.INGOT_AGENT_MAIN ? { mainPath: process.env.INGOT_AGENT_MAIN } : {}),
      });
      console.log(`[agent] pid ${rig.agent.pid}: ${rig.agent.argv.join(' ')}`);
      return rig.agent;
    },

    async waitForState(wanted, timeoutMs) {
      try {
        return await api.waitForProvisionState(node.uuid, wanted, {
          timeoutMs,
          intervalMs: 250,
          failOn: ['clean failed', 'deploy failed', 'error'].filter((state) => state !== wanted),
          onPoll: (polled) => {
            const url = polled.driver_internal_info.agent_url;
            if (typeof url === 'string') rig.callbackUrls.add(url);
            const exited = rig.agent?.exitStatus();
            if (exited !== undefined) throw new Error(`the agent exited (${exited}) while the node was '${polled.provision_state}'`);
          },
        });
      } catch (error) {
        // What Ironic refused (heartbeats above all) usually names the cause.
        const refused = await ironic.readClientErrors();
        throw new Error(`${(error as Error).message}\nIronic answered 4xx with: ${refused.join(' | ') || '(nothing)'}`, { cause: error });
      }
    },

    async printLogs() {
      if (logsPrinted) return;
      logsPrinted = true;
      const refused = await ironic.readClientErrors();
      console.error(`--- 4xx answers Ironic gave (distinct) ---\n${refused.join('\n') || '(none)'}`);
      console.error(`--- ${ironic.logPath} (tail) ---\n${await ironic.logTail(120)}`);
      const agent = rig.agent;
      if (agent) console.error(`--- ${agent.logPath} (tail; agent ${agent.exitStatus() ?? 'running'}) ---\n${await agent.logTail(120)}`);
      console.error(`--- nginx access log ---\n${(await images.readAccessLog()).map((entry) => JSON.stringify(entry)).join('\n')}`);
    },

    async stop() {
      await rig.agent?.stop();
      await ironic.stop();
      await images.stop();
      // Kept after a failure (or on request) for a closer look.
      if (logsPrinted || process.env.INGOT_KEEP_TEST_FILES) console.log(`[kept] ${workDir}`);
      else await rm(workDir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** A locally administered unicast MAC (bit 1 of the first octet set): it matches no real NIC and no other test's node. */
function randomLocalMac(): string {
  return ['02', ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0'))].join(':');
}

/** The simulated machine the agent reports instead of probing the host (agent --machine). */
async function writeMachineFile(dir: string, mac: string): Promise<string> {
  const file = path.join(dir, 'machine.json');
  const machine = {
    interfaces: [{ name: 'eth0', mac_address: mac, ipv4_address: '127.0.0.1' }],
    cpu: { model_name: 'Ingot test CPU', frequency: '2400', count: 2, architecture: 'x86_64', flags: [] },
    memory: { total: 2048 * 1024 * 1024, physical_mb: 2048 },
    system_vendor: { product_name: 'ThinkSystem SR630', serial_number: 'INGOT-IT-0001', manufacturer: 'Lenovo' },
  };
  await writeFile(file, JSON.stringify(machine, null, 2));
  return file;
}
