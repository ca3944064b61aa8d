import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed, vi } from 'vitest';
import { findIssuedTokens, findUnredactedTokens, readIssuedAgentTokens } from './ironic/agent-token-audit.ts';
import { CLEAN_DISK, mbrDiskSignature, readDiskSignatures } from './ironic/disk-files.ts';
import { type IronicNode } from './ironic/ironic-api.ts';
import { findMissingForIronicRig, startIronicRig, type IronicRig } from './ironic/ironic-rig.ts';
import { readJsonLines } from './ironic/log-tail.ts';
import { deployedImageDigest, readDeployedMarker } from '../support/whole-disk-image.ts';
import { prerequisite } from '../support/prerequisite.ts';

/**
 * Debian's real Ironic 21.4 (ironic-standalone.md) drives the real agent
 * through a node's life: automated cleaning (lookup, token, heartbeats with
 * auto-TLS, get_clean_steps, erase_devices_metadata on two disk files) to
 * `available`; a whole-disk image deploy from Debian's nginx (get_deploy_steps,
 * write_image, get_partition_uuids, standby.power_off) to `active`; and
 * undeploy with automated cleaning back to `available`. Outside CI the suite
 * is skipped when python3-ironic or nginx is missing; in CI it fails, naming
 * what is missing and how to install it. ironic-fast-track.test.ts runs the
 * same node life with `[deploy]fast_track`.
 */
const ironicAndNginx = prerequisite('the Ironic compatibility tests', await findMissingForIronicRig());

/** [api]ramdisk_heartbeat_timeout: the agent then heartbeats every 3-6 s. */
const HEARTBEAT_TIMEOUT_S = 10;
const CLEANING_TIMEOUT_MS = 240_000;
const DEPLOY_TIMEOUT_MS = 240_000;
/**
 * The node's boot mode. In UEFI mode (Ironic 21.4's default) a whole-disk
 * deploy also sends image.install_bootloader (ironic-conductor.md §4, §6b),
 * which the agent answers; 'bios' leaves that call out.
 */
const BOOT_MODE = 'uefi' as 'bios' | 'uefi';

ironicAndNginx.describe('Debian Ironic 21.4 cleaning, deploying and undeploying a node through the Ingot agent', () => {
  let rig: IronicRig;
  let deployed: IronicNode | undefined;
  let undeployed: IronicNode | undefined;
  let cleaned: IronicNode | undefined;

  function whenFailed(): void {
    onTestFailed(() => rig?.printLogs());
  }

  function afterCleaning(): IronicNode {
    if (!cleaned) throw new Error('cleaning did not reach "available"; see the first test of this suite');
    return cleaned;
  }

  function afterDeploy(): IronicNode {
    if (!deployed) throw new Error('the deploy did not reach "active"; see the deploy test of this suite');
    return deployed;
  }

  beforeAll(async () => {
    // require_tls: Ironic refuses plain-http callbacks, so a finished
    // cleaning proves the agent served HTTPS and Ironic verified it against
    // the certificate the agent sent (ironic-conductor.md §1, TLS).
    rig = await startIronicRig({
      label: 'ironic-it', fastTrack: false, requireTls: true, heartbeatTimeout: HEARTBEAT_TIMEOUT_S,
      bootMode: BOOT_MODE, diskMiB: 64, imageMiB: 24,
    });
    rig.startAgent();
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('takes the node from enroll through manageable and automated cleaning to available', async () => {
    whenFailed();
    await rig.api.setProvisionState(rig.node.uuid, 'manage');
    await rig.api.waitForProvisionState(rig.node.uuid, 'manageable', { timeoutMs: 30_000 });

    await rig.api.setProvisionState(rig.node.uuid, 'provide');
    cleaned = await rig.waitForState('available', CLEANING_TIMEOUT_MS);
    expect(cleaned.provision_state).toBe('available');
    expect(cleaned.last_error).toBeNull();
    expect(cleaned.maintenance).toBe(false);
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('ran erase_devices_metadata in the agent and had it reported back as a success', async () => {
    whenFailed();
    afterCleaning();
    const log = await readFile(rig.ironic.logPath, 'utf8');
    // get_clean_steps answered; the step list Ironic computed from it.
    expect(log).toMatch(new RegExp(`List of the steps for automated cleaning of node ${rig.node.uuid}: \\[\\{'step': 'erase_devices_metadata'`));
    // execute_clean_step's result, read back through GET /v1/commands/.
    expect(log).toContain(`Agent on node ${rig.node.uuid} returned clean command success`);
    expect(log).toContain(`Node ${rig.node.uuid} cleaning complete`);
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
    expect(await readdir(rig.ironic.certificatesPath)).toContain(`${rig.node.uuid}.crt`);
    const pem = await readFile(path.join(rig.ironic.certificatesPath, `${rig.node.uuid}.crt`), 'utf8');
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // If the poll caught the node while the agent was registered, it was over HTTPS.
    for (const url of rig.callbackUrls) expect(url).toBe(`https://127.0.0.1:${rig.agentListenPort}`);
  });

  it('left no partition table and no file system signature on either disk', async () => {
    whenFailed();
    afterCleaning();
    for (const disk of rig.disks) {
      const after = await readDiskSignatures(disk);
      expect({ disk, ...after }).toEqual({ disk, ...CLEAN_DISK });
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
      expect(rig.agent!.exitStatus(), 'the agent exited').toBeUndefined();
      const log = await readFile(rig.ironic.logPath, 'utf8');
      const refused = log.indexOf(`Invalid or missing agent_token received for node ${rig.node.uuid}`);
      expect(refused, 'Ironic refused the wiped token in a heartbeat').toBeGreaterThanOrEqual(0);
      const lookups = [...log.slice(refused).matchAll(/"GET \/v1\/lookup\?[^"]*" status: 404/g)];
      expect(lookups.length, 'lookups Ironic answered 404 after the refused heartbeat').toBeGreaterThanOrEqual(2);
      const agentLog = readJsonLines(await readFile(rig.agent!.logPath, 'utf8'));
      const startedOver = agentLog.findIndex((record) => record.msg === 'starting over as freshly booted: forgetting commands and looking up again');
      expect(startedOver, 'the agent started over').toBeGreaterThanOrEqual(0);
      expect(agentLog.slice(startedOver).some((record) => String(record.msg).startsWith('lookup failed (attempt ') && (record.lookup as { status?: unknown } | undefined)?.status === 404), 'the agent retrying after a 404').toBe(true);
    }, { timeout: HEARTBEAT_TIMEOUT_S * 1000 + 20_000, interval: 500 });
    expect(rig.agent!.exitStatus()).toBeUndefined();
  }, 60_000);

  it(`deploys a whole-disk image served by nginx to active in ${BOOT_MODE} boot mode: write_image, get_partition_uuids, power off`, async () => {
    whenFailed();
    afterCleaning();
    // What an operator sets for an http image (ironic-conductor.md §4):
    // Ironic HEADs the URL, then the agent downloads it itself.
    await rig.api.updateNode(rig.node.uuid, [
      { op: 'add', path: '/instance_info/image_source', value: `${rig.images.url}/disk.img` },
      { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
      { op: 'add', path: '/instance_info/image_os_hash_value', value: rig.image.sha256 },
      { op: 'add', path: '/instance_info/image_disk_format', value: 'raw' },
    ]);
    await rig.api.setProvisionState(rig.node.uuid, 'active');
    deployed = await rig.waitForState('active', DEPLOY_TIMEOUT_MS);
    expect(deployed.last_error).toBeNull();
    expect(deployed.driver_internal_info.is_whole_disk_image).toBe(true);
    // The agent's `root uuid` for a whole-disk image: the MBR disk signature (ipa-protocol.md 9.5, 9.8).
    expect(deployed.driver_internal_info.root_uuid_or_disk_id).toBe(mbrDiskSignature(await readFile(rig.image.path)));
    // Fake power: Ironic powered the node off after standby.power_off, then on to boot the instance.
    expect(deployed.power_state).toBe('power on');
  }, DEPLOY_TIMEOUT_MS + 60_000);

  it('wrote the image byte for byte to the disk the root device hint names, and left the other disk alone', async () => {
    whenFailed();
    afterDeploy();
    expect(await deployedImageDigest(rig.disks[1]!, rig.image.size)).toBe(await deployedImageDigest(rig.image.path, rig.image.size));
    // The image was made for a smaller disk: its backup GPT now sits at the disk's end, the table valid.
    expect(execFileSync('sgdisk', ['--verify', rig.disks[1]!], { encoding: 'utf8' })).toMatch(/No problems found/);
    expect(await readDeployedMarker(rig.disks[1]!)).toEqual({ diskGuid: rig.image.diskGuid, marker: rig.image.marker });
    // Still as cleaning left it.
    expect(await readDiskSignatures(rig.disks[0]!)).toEqual(CLEAN_DISK);
  });

  it('ran the whole-disk deploy sequence of ironic-conductor.md §6(b) through the agent', async () => {
    whenFailed();
    afterDeploy();
    const log = await readFile(rig.ironic.logPath, 'utf8');
    const deployLog = log.slice(log.indexOf(`Node ${rig.node.uuid} cleaning complete`));
    const sent = [...deployLog.matchAll(/Executing agent command (\S+) for node (\S+)/g)]
      .filter((match) => match[2] === rig.node.uuid).map((match) => match[1]!);
    const expected = ['deploy.get_deploy_steps', 'deploy.execute_deploy_step', 'standby.get_partition_uuids',
      ...(BOOT_MODE === 'uefi' ? ['image.install_bootloader'] : []), 'standby.power_off'];
    expect(sent.slice(0, expected.length)).toEqual(expected);
    expect(deployLog).toContain(`Image successfully written to node ${rig.node.uuid}`);
    expect(deployLog).toContain(`Successfully deployed node ${rig.node.uuid}`);

    // image_info as Ironic built it (ironic-conductor.md §4): the agent logs its keys, never its values.
    const writing = (await readFile(rig.agent!.logPath, 'utf8')).split('\n').find((line) => line.includes('"deploy request accepted"'));
    expect(writing, 'the agent logged the deploy request').toBeDefined();
    const imageInfoKeys = (JSON.parse(writing!) as { imageInfoKeys: string[] }).imageInfoKeys;
    console.log(`[wire] image_info keys Ironic sent: ${imageInfoKeys.join(', ')}`);
    expect(imageInfoKeys).toEqual(expect.arrayContaining(['id', 'urls', 'disk_format', 'stream_raw_images', 'os_hash_algo', 'os_hash_value', 'node_uuid']));
    expect(imageInfoKeys).not.toContain('root_mb'); // whole-disk: no partition-image keys

    // On the wire at the image server: the conductor checked the URL, the agent fetched all of it.
    const served = (await rig.images.readAccessLog()).filter((entry) => entry.path === '/disk.img');
    expect(served.some((entry) => entry.method === 'HEAD' && entry.status === 200 && entry.userAgent.startsWith('python-requests/'))).toBe(true);
    const downloads = served.filter((entry) => entry.method === 'GET' && entry.status === 200);
    expect(downloads.length).toBe(1);
    expect(downloads[0]!.bytes).toBe(rig.image.size);
  });

  it('undeploys: tears down, cleans the disks through the agent and returns the node to available', async () => {
    whenFailed();
    afterDeploy();
    await rig.api.setProvisionState(rig.node.uuid, 'deleted');
    undeployed = await rig.waitForState('available', CLEANING_TIMEOUT_MS);
    expect(undeployed.last_error).toBeNull();
    expect(undeployed.instance_info).toEqual({});
    for (const disk of rig.disks) {
      expect({ disk, ...(await readDiskSignatures(disk)) }).toEqual({ disk, ...CLEAN_DISK });
    }
    expect(await readDeployedMarker(rig.disks[1]!)).toEqual({ diskGuid: null, marker: null });
    const log = await readFile(rig.ironic.logPath, 'utf8');
    expect(log.split(`Node ${rig.node.uuid} cleaning complete`).length - 1, 'two automated cleanings').toBe(2);
  }, CLEANING_TIMEOUT_MS + 60_000);

  it('never wrote any agent token that Ironic issued (for cleaning, deploy and undeploy) into its log', async () => {
    whenFailed();
    afterCleaning();
    const tokens = await readIssuedAgentTokens(rig.ironic.databasePath);
    expect(tokens.length).toBeGreaterThan(0);
    const agentLog = await readFile(rig.agent!.logPath, 'utf8');
    expect(agentLog.length).toBeGreaterThan(0);
    expect(findIssuedTokens(agentLog, tokens), `tokens found in ${rig.agent!.logPath}`).toEqual([]);
    expect(findUnredactedTokens(agentLog)).toEqual([]);
  });

});
