import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed, vi } from 'vitest';
import { startAgentProcess, type AgentProcess } from './ironic/agent-process.ts';
import { findUnredactedTokens, installAgentTokenAudit, readIssuedAgentTokens } from './ironic/agent-token-audit.ts';
import { createUsedDisk, findMissingDiskTools, readDiskSignatures } from './ironic/disk-files.ts';
import { findFreePort } from './ironic/free-port.ts';
import { createIronicApi, type IronicApi, type IronicNode } from './ironic/ironic-api.ts';
import { checkIronicInstalled, IRONIC_INSTALL_HINT, startIronic, SYSTEM_PYTHON, type IronicServer } from './ironic/ironic-server.ts';
import { checkNginxInstalled, startImageServer, type ImageServer } from '../support/nginx-image-server.ts';
import { createWholeDiskImage, deployedImageDigest, readDeployedMarker, type WholeDiskImage } from '../support/whole-disk-image.ts';
import { prerequisite } from '../support/prerequisite.ts';

/**
 * Debian's real Ironic 21.4 (ironic-standalone.md) drives the real agent
 * through a node's life: automated cleaning (lookup, token, heartbeats with
 * auto-TLS, get_clean_steps, erase_devices_metadata on two disk files) to
 * `available`; a whole-disk image deploy from Debian's nginx (get_deploy_steps,
 * write_image, get_partition_uuids, standby.power_off) to `active`; and
 * undeploy with automated cleaning back to `available`. Outside CI the suite
 * is skipped when python3-ironic or nginx is missing; in CI it fails, naming
 * what is missing and how to install it.
 */
const ironicMissing = await checkIronicInstalled();
const ironicAndNginx = prerequisite('the Ironic compatibility tests', ironicMissing !== null
  ? `python3-ironic is not importable by ${SYSTEM_PYTHON} (${ironicMissing}); run: ${IRONIC_INSTALL_HINT}`
  : checkNginxInstalled());

// A locally administered unicast MAC (bit 1 of the first octet set), so it
// matches no real NIC and no other test's node.
const MAC = ['02', ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 256).toString(16).padStart(2, '0'))].join(':');
const DISK_MiB = 64;
/** [api]ramdisk_heartbeat_timeout: the agent then heartbeats every 3-6 s. */
const HEARTBEAT_TIMEOUT_S = 10;
const CLEANING_TIMEOUT_MS = 240_000;
const DEPLOY_TIMEOUT_MS = 240_000;
const IMAGE_MiB = 24;
/**
 * The node's boot mode. In UEFI mode (Ironic 21.4's default) a whole-disk
 * deploy also sends image.install_bootloader (ironic-conductor.md §4, §6b),
 * which the agent answers; 'bios' leaves that call out.
 */
const BOOT_MODE = 'uefi' as 'bios' | 'uefi';

ironicAndNginx.describe('Debian Ironic 21.4 cleaning, deploying and undeploying a node through the Ingot agent', () => {
  let workDir: string;
  let ironic: IronicServer | undefined;
  let images: ImageServer | undefined;
  let image: WholeDiskImage;
  let deployed: IronicNode | undefined;
  let undeployed: IronicNode | undefined;
  let agent: AgentProcess | undefined;
  let api: IronicApi;
  let node: IronicNode;
  let cleaned: IronicNode | undefined;
  let agentListenPort: number;
  const disks: string[] = [];
  const callbackUrls = new Set<string>();

  let logsPrinted = false;

  /** Once per suite: later tests mostly fail for the same reason. */
  async function printLogs(): Promise<void> {
    if (logsPrinted) return;
    logsPrinted = true;
    if (ironic) {
      const refused = await ironic.readClientErrors();
      console.error(`--- 4xx answers Ironic gave (distinct) ---\n${refused.join('\n') || '(none)'}`);
      console.error(`--- ${ironic.logPath} (tail) ---\n${await ironic.logTail(120)}`);
    }
    if (agent) console.error(`--- ${agent.logPath} (tail; agent ${agent.exitStatus() ?? 'running'}) ---\n${await agent.logTail(120)}`);
    if (images) console.error(`--- nginx access log ---\n${(await images.readAccessLog()).map((entry) => JSON.stringify(entry)).join('\n')}`);
  }

  function whenFailed(): void {
    onTestFailed(printLogs);
  }

  function afterCleaning(): IronicNode {
    if (!cleaned) throw new Error('cleaning did not reach "available"; see the first test of this suite');
    return cleaned;
  }

  function afterDeploy(): IronicNode {
    if (!deployed) throw new Error('the deploy did not reach "active"; see the deploy test of this suite');
    return deployed;
  }

  /** Waits for `wanted`, failing early if the agent dies and naming what Ironic refused. */
  async function waitForState(wanted: string, timeoutMs: number): Promise<IronicNode> {
    try {
      return await api.waitForProvisionState(node.uuid, wanted, {
        timeoutMs,
        intervalMs: 250,
        failOn: ['clean failed', 'deploy failed', 'error'],
        onPoll: (polled) => {
          const url = polled.driver_internal_info.agent_url;
          if (typeof url === 'string') callbackUrls.add(url);
          if (agent?.exitStatus() !== undefined) throw new Error(`the agent exited (${agent.exitStatus()}) while the node was '${polled.provision_state}'`);
        },
      });
    } catch (error) {
      // What Ironic refused (heartbeats above all) usually names the cause.
      const refused = await ironic!.readClientErrors();
      throw new Error(`${(error as Error).message}\nIronic answered 4xx with: ${refused.join(' | ') || '(nothing)'}`, { cause: error });
    }
  }

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'ingot-ironic-test-'));
    try {
      disks.push(...(await prepareUsedDisks(workDir)));
      const machineFile = await writeMachineFile(workDir, MAC);

      // The image server: the whole-disk image, and the deploy kernel and
      // ramdisk that the pxe boot interface fetches (and caches) before every
      // cleaning and deploy; nothing boots them here, so any bytes do.
      const wwwRoot = path.join(workDir, 'www');
      await mkdir(wwwRoot);
      image = await createWholeDiskImage(path.join(wwwRoot, 'disk.img'), IMAGE_MiB);
      await writeFile(path.join(wwwRoot, 'deploy.kernel'), 'not a kernel\n');
      await writeFile(path.join(wwwRoot, 'deploy.initramfs'), 'not an initramfs\n');
      images = await startImageServer({ root: wwwRoot, stateDir: path.join(workDir, 'nginx'), log: (line) => console.log(`[nginx] ${line}`) });

      // require_tls: Ironic refuses plain-http callbacks, so a finished
      // cleaning proves the agent served HTTPS and Ironic verified it against
      // the certificate the agent sent (ironic-conductor.md §1, TLS).
      ironic = await startIronic({
        stateDir: path.join(workDir, 'ironic'),
        heartbeatTimeout: HEARTBEAT_TIMEOUT_S,
        requireTls: true,
        log: (line) => console.log(`[ironic] ${line}`),
      });
      await installAgentTokenAudit(ironic.databasePath);
      api = createIronicApi(ironic.url);

      node = await api.createNode({
        name: `ingot-it-${MAC.replaceAll(':', '')}`, memoryMb: 2048, cpuArch: 'x86_64', localGb: 1,
        driverInfo: { deploy_kernel: `${images.url}/deploy.kernel`, deploy_ramdisk: `${images.url}/deploy.initramfs` },
        properties: {
          capabilities: `boot_mode:${BOOT_MODE}`,
          // The second disk receives the image; the first must stay untouched.
          // Both are far below IPA's 4 GiB minimum for a disk chosen without hints.
          root_device: { name: disks[1] },
        },
      });
      await api.createPort(node.uuid, MAC);

      agentListenPort = await findFreePort({ avoid: [ironic.port, 8080] });
      agent = startAgentProcess({
        apiUrl: ironic.url,
        disks,
        machineFile,
        listenPort: agentListenPort,
        stateDir: path.join(workDir, 'agent-state'),
        logPath: path.join(workDir, 'agent.log'),
        lookupTimeoutSeconds: 300,
        extraArgs: ['--debug'],
        // To check another build of the agent against Ironic.
        ...(process.env.INGOT_AGENT_MAIN ? { mainPath: process.env.INGOT_AGENT_MAIN } : {}),
      });
      console.log(`[agent] pid ${agent.pid}: ${agent.argv.join(' ')}`);
    } catch (error) {
      await printLogs();
      throw error;
    }
  });

  afterAll(async () => {
    await agent?.stop();
    await ironic?.stop();
    await images?.stop();
    if (!workDir) return;
    // Kept after a failure (or on request) for a closer look.
    if (logsPrinted || process.env.INGOT_KEEP_TEST_FILES) console.log(`[kept] ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  });

  it('takes the node from enroll through manageable and automated cleaning to available', async () => {
    whenFailed();
    await api.setProvisionState(node.uuid, 'manage');
    await api.waitForProvisionState(node.uuid, 'manageable', { timeoutMs: 30_000 });

    await api.setProvisionState(node.uuid, 'provide');
    cleaned = await waitForState('available', CLEANING_TIMEOUT_MS);
    expect(cleaned.provision_state).toBe('available');
    expect(cleaned.last_error).toBeNull();
    expect(cleaned.maintenance).toBe(false);
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('ran erase_devices_metadata in the agent and had it reported back as a success', async () => {
    whenFailed();
    afterCleaning();
    const log = await readFile(ironic!.logPath, 'utf8');
    // get_clean_steps answered; the step list Ironic computed from it.
    expect(log).toMatch(new RegExp(`List of the steps for automated cleaning of node ${node.uuid}: \\[\\{'step': 'erase_devices_metadata'`));
    // execute_clean_step's result, read back through GET /v1/commands/.
    expect(log).toContain(`Agent on node ${node.uuid} returned clean command success`);
    expect(log).toContain(`Node ${node.uuid} cleaning complete`);
  });

  it('stored the agent version and hardware manager versions that the agent reported', () => {
    whenFailed();
    const info = afterCleaning().driver_internal_info;
    expect(typeof info.agent_version).toBe('string');
    expect(info.agent_version).not.toBe('');
    expect(info.hardware_manager_version).toBeTypeOf('object');
    expect(Object.keys(info.hardware_manager_version as object).length).toBeGreaterThan(0);
    expect(info.agent_cached_clean_steps_refreshed).toBeTypeOf('string');
    expect(info.agent_last_heartbeat).toBeTypeOf('string');
  });

  it('stored the auto-TLS certificate the agent sent under certificates_path/<node uuid>.crt', async () => {
    whenFailed();
    afterCleaning();
    expect(await readdir(ironic!.certificatesPath)).toContain(`${node.uuid}.crt`);
    const pem = await readFile(path.join(ironic!.certificatesPath, `${node.uuid}.crt`), 'utf8');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // If the poll caught the node while the agent was registered, it was over HTTPS.
    for (const url of callbackUrls) expect(url).toBe(`https://127.0.0.1:${agentListenPort}`);
  });

  it('left no partition table and no file system signature on either disk', async () => {
    whenFailed();
    afterCleaning();
    for (const disk of disks) {
      const after = await readDiskSignatures(disk);
      expect({ disk, ...after }).toEqual({ disk, partitions: [], wipefs: [], blkidWhole: null, blkidPartition: null });
    }
  });

  it('keeps running after Ironic wipes its token at the end of cleaning, and looks the node up again', async () => {
    whenFailed();
    afterCleaning();
    // The next heartbeat (at most 0.6 x the heartbeat timeout later) is
    // refused; a freshly booted agent looks up again, and Ironic answers 404
    // for an available node (ironic-standalone.md, "Pitfalls"). That the
    // agent is still running is judged after it has read a 404 and gone on:
    // Ironic answered two lookups with 404 after refusing the token, and the
    // agent logged that it started over and will retry after a 404.
    await vi.waitFor(async () => {
      expect(agent!.exitStatus(), 'the agent exited').toBeUndefined();
      const log = await readFile(ironic!.logPath, 'utf8');
      const refused = log.indexOf(`Invalid or missing agent_token received for node ${node.uuid}`);
      expect(refused, 'Ironic refused the wiped token in a heartbeat').toBeGreaterThanOrEqual(0);
      const lookups = [...log.slice(refused).matchAll(/"GET \/v1\/lookup\?[^"]*" status: 404/g)];
      expect(lookups.length, 'lookups Ironic answered 404 after the refused heartbeat').toBeGreaterThanOrEqual(2);
      const agentLog = readJsonLines(await readFile(agent!.logPath, 'utf8'));
      const startedOver = agentLog.findIndex((record) => record.msg === 'starting over as freshly booted: forgetting commands and looking up again');
      expect(startedOver, 'the agent started over').toBeGreaterThanOrEqual(0);
      expect(agentLog.slice(startedOver).some((record) => record.msg === 'lookup not answered yet; retrying' && /\b404\b/.test(String(record.reason))), 'the agent retrying after a 404').toBe(true);
    }, { timeout: HEARTBEAT_TIMEOUT_S * 1000 + 20_000, interval: 500 });
    expect(agent!.exitStatus()).toBeUndefined();
  }, 60_000);

  it(`deploys a whole-disk image served by nginx to active in ${BOOT_MODE} boot mode: write_image, get_partition_uuids, power off`, async () => {
    whenFailed();
    afterCleaning();
    // What an operator sets for an http image (ironic-conductor.md §4):
    // Ironic HEADs the URL, then the agent downloads it itself.
    await api.updateNode(node.uuid, [
      { op: 'add', path: '/instance_info/image_source', value: `${images!.url}/disk.img` },
      { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
      { op: 'add', path: '/instance_info/image_os_hash_value', value: image.sha256 },
      { op: 'add', path: '/instance_info/image_disk_format', value: 'raw' },
    ]);
    await api.setProvisionState(node.uuid, 'active');
    deployed = await waitForState('active', DEPLOY_TIMEOUT_MS);
    expect(deployed.last_error).toBeNull();
    expect(deployed.driver_internal_info.is_whole_disk_image).toBe(true);
    // The agent's `root uuid` for a whole-disk image: the MBR disk signature (ipa-protocol.md 9.5, 9.8).
    expect(deployed.driver_internal_info.root_uuid_or_disk_id).toBe(mbrDiskSignature(await readFile(image.path)));
    // Fake power: Ironic powered the node off after standby.power_off, then on to boot the instance.
    expect(deployed.power_state).toBe('power on');
  }, DEPLOY_TIMEOUT_MS + 60_000);

  it('wrote the image byte for byte to the disk the root device hint names, and left the other disk alone', async () => {
    whenFailed();
    afterDeploy();
    expect(await deployedImageDigest(disks[1]!, image.size)).toBe(await deployedImageDigest(image.path, image.size));
    // The image was made for a smaller disk: its backup GPT now sits at the disk's end, the table valid.
    expect(execFileSync('sgdisk', ['--verify', disks[1]!], { encoding: 'utf8' })).toMatch(/No problems found/);
    expect(await readDeployedMarker(disks[1]!)).toEqual({ diskGuid: image.diskGuid, marker: image.marker });
    // Still as cleaning left it.
    expect(await readDiskSignatures(disks[0]!)).toEqual({ partitions: [], wipefs: [], blkidWhole: null, blkidPartition: null });
  });

  it('ran the whole-disk deploy sequence of ironic-conductor.md §6(b) through the agent', async () => {
    whenFailed();
    afterDeploy();
    const log = await readFile(ironic!.logPath, 'utf8');
    const deployLog = log.slice(log.indexOf(`Node ${node.uuid} cleaning complete`));
    const sent = [...deployLog.matchAll(/Executing agent command (\S+) for node (\S+)/g)]
      .filter((match) => match[2] === node.uuid).map((match) => match[1]!);
    const expected = ['deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'standby.get_partition_uuids',
      ...(BOOT_MODE === 'uefi' ? ['image.install_bootloader'] : []), 'standby.power_off'];
    expect(sent.slice(0, expected.length)).toEqual(expected);
    expect(deployLog).toContain(`Image successfully written to node ${node.uuid}`);
    expect(deployLog).toContain(`Successfully deployed node ${node.uuid}`);

    // image_info as Ironic built it (ironic-conductor.md §4): the agent logs its keys, never its values.
    const writing = (await readFile(agent!.logPath, 'utf8')).split('\n').find((line) => line.includes('"deploy request accepted"'));
    expect(writing, 'the agent logged the deploy request').toBeDefined();
    const imageInfoKeys = (JSON.parse(writing!) as { imageInfoKeys: string[] }).imageInfoKeys;
    console.log(`[wire] image_info keys Ironic sent: ${imageInfoKeys.join(', ')}`);
    expect(imageInfoKeys).toEqual(expect.arrayContaining(['id', 'urls', 'disk_format', 'stream_raw_images', 'os_hash_algo', 'os_hash_value', 'node_uuid']));
    expect(imageInfoKeys).not.toContain('root_mb'); // whole-disk: no partition-image keys

    // On the wire at the image server: the conductor checked the URL, the agent fetched all of it.
    const served = (await images!.readAccessLog()).filter((entry) => entry.path === '/disk.img');
    expect(served.some((entry) => entry.method === 'HEAD' && entry.status === 200 && entry.userAgent.startsWith('python-requests/'))).toBe(true);
    const downloads = served.filter((entry) => entry.method === 'GET' && entry.status === 200);
    expect(downloads.length).toBe(1);
    expect(downloads[0]!.bytes).toBe(image.size);
  });

  it('undeploys: tears down, cleans the disks through the agent and returns the node to available', async () => {
    whenFailed();
    afterDeploy();
    await api.setProvisionState(node.uuid, 'deleted');
    undeployed = await waitForState('available', CLEANING_TIMEOUT_MS);
    expect(undeployed.last_error).toBeNull();
    expect(undeployed.instance_info).toEqual({});
    for (const disk of disks) {
      expect({ disk, ...(await readDiskSignatures(disk)) }).toEqual({ disk, partitions: [], wipefs: [], blkidWhole: null, blkidPartition: null });
    }
    expect(await readDeployedMarker(disks[1]!)).toEqual({ diskGuid: null, marker: null });
    const log = await readFile(ironic!.logPath, 'utf8');
    expect(log.split(`Node ${node.uuid} cleaning complete`).length - 1, 'two automated cleanings').toBe(2);
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('never wrote any agent token that Ironic issued (for cleaning, deploy and undeploy) into its log', async () => {
    whenFailed();
    afterCleaning();
    const tokens = await readIssuedAgentTokens(ironic!.databasePath);
    expect(tokens.length).toBeGreaterThan(0);
    const agentLog = await readFile(agent!.logPath, 'utf8');
    expect(agentLog.length).toBeGreaterThan(0);
    for (const token of tokens) expect(agentLog.includes(token), `token ${token.slice(0, 4)}… found in ${agent!.logPath}`).toBe(false);
    expect(findUnredactedTokens(agentLog)).toEqual([]);
  });

});

/** The JSON records of a log file (pino's lines), skipping anything else written there. */
function readJsonLines(text: string): Array<Record<string, unknown>> {
  return text.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Ironic's `root uuid` of a whole-disk image: the MBR disk signature at byte 440, as `0x%08x`. */
function mbrDiskSignature(bytes: Buffer): string {
  return `0x${bytes.readUInt32LE(440).toString(16).padStart(8, '0')}`;
}

/** Two disks as a previous tenant leaves them: GPT, one partition, ext4 inside. */
async function prepareUsedDisks(dir: string): Promise<string[]> {
  const missing = await findMissingDiskTools();
  if (missing.length > 0) throw new Error(`missing disk tools: ${missing.join(', ')} (apt-get install -y gdisk e2fsprogs util-linux)`);
  const files: string[] = [];
  for (const name of ['disk-a.img', 'disk-b.img']) {
    const file = path.join(dir, name);
    await createUsedDisk(file, DISK_MiB);
    // The precondition the erase is judged against.
    const before = await readDiskSignatures(file);
    if (before.partitions.length !== 1 || !before.blkidPartition?.includes('TYPE="ext4"') || before.wipefs.length === 0) {
      throw new Error(`could not prepare ${file}: ${JSON.stringify(before)}`);
    }
    files.push(file);
  }
  return files;
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
