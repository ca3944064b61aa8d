import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed, vi } from 'vitest';
import { findIssuedTokens, findUnredactedTokens, readIssuedAgentTokens } from './ironic/agent-token-audit.ts';
import { CLEAN_DISK, mbrDiskSignature, readDiskSignatures } from './ironic/disk-files.ts';
import { type IronicNode } from './ironic/ironic-api.ts';
import { findMissingForIronicRig, startIronicRig, type IronicRig } from './ironic/ironic-rig.ts';
import { readJsonLines } from './ironic/log-tail.ts';
import { listStoredRamdiskLogs, readRamdiskLogArchive } from './ironic/ramdisk-logs.ts';
import { deployedImageDigest, readDeployedMarker } from '../support/whole-disk-image.ts';
import { prerequisite } from '../support/prerequisite.ts';

/**
 * Debian's real Ironic 21.4 with `[deploy]fast_track = True` (ironic-conductor.md
 * §2, §6 fast-track notes) drives ONE agent process, started while the node is
 * `manageable` and powered on: it looks the node up once and keeps that token through
 * automated cleaning (sent at once from `provide`, no power action) and a
 * whole-disk deploy to `active`. The power off at the end of that deploy wipes
 * the token, as on any hardware. Then a rebuild whose image checksum is that
 * of another file fails in the agent, and Ironic's own on-failure log
 * collection (`[agent]deploy_logs_collect = on_failure`, the default) calls
 * log.collect_system_logs and stores the archive under
 * `[agent]deploy_logs_local_path`; the same agent process then takes the node
 * from `deploy failed` to `active`. Skipped or failed like ironic.test.ts
 * when python3-ironic or nginx is missing.
 */
const ironicAndNginx = prerequisite('the Ironic fast-track tests', await findMissingForIronicRig());

/** [api]ramdisk_heartbeat_timeout: the agent heartbeats every 3-6 s. */
const HEARTBEAT_TIMEOUT_S = 10;
/**
 * [deploy]fast_track_timeout: a step is fast-tracked only if the last
 * heartbeat Ironic recorded is this recent. A heartbeat that finds the node
 * locked is skipped unrecorded, so three heartbeat intervals leave room for
 * one or two of those.
 */
const FAST_TRACK_TIMEOUT_S = 30;
const STATE_TIMEOUT_MS = 120_000;
const LOOKUP_200 = /"GET \/v1\/lookup\?[^"]*" status: 200/g;

ironicAndNginx.describe('Debian Ironic 21.4 with fast track: one running agent cleans and deploys a node without a new lookup', () => {
  let rig: IronicRig;
  let uuid: string;
  let cleaned: IronicNode | undefined;
  let deployed: IronicNode | undefined;
  let failed: IronicNode | undefined;
  /** The one token Ironic stored from the lookup to the end of cleaning. */
  let cleaningToken: string | undefined;
  /** Where Ironic's log stood when each phase began. */
  const marks = { provide: 0, deploy: 0, rebuild: 0 };

  function whenFailed(): void {
    onTestFailed(() => rig?.printLogs());
  }

  const readIronicLog = () => readFile(rig.ironic.logPath, 'utf8');
  const readAgentLog = async () => readJsonLines(await readFile(rig.agent!.logPath, 'utf8'));

  function after<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} did not happen; see the earlier test of this suite`);
    return value;
  }

  beforeAll(async () => {
    rig = await startIronicRig({
      label: 'ironic-ft', fastTrack: true, fastTrackTimeout: FAST_TRACK_TIMEOUT_S, requireTls: true,
      heartbeatTimeout: HEARTBEAT_TIMEOUT_S, bootMode: 'uefi', diskMiB: 64, imageMiB: 24,
    });
    uuid = rig.node.uuid;
  });

  afterAll(async () => {
    await rig?.stop();
  });

  it('answers the lookup of an agent started while the node is manageable, and records its heartbeats there', async () => {
    whenFailed();
    await rig.api.setProvisionState(uuid, 'manage');
    await rig.api.waitForProvisionState(uuid, 'manageable', { timeoutMs: 30_000 });
    // The machine is on with the ramdisk running: fast track needs the power
    // on as well as a recent heartbeat (conductor/utils.py is_fast_track).
    await rig.api.setPowerState(uuid, 'power on');
    await vi.waitFor(async () => expect((await rig.api.getNode(uuid)).power_state).toBe('power on'), { timeout: 30_000, interval: 250 });

    // With fast track Ironic answers the lookup in manageable (§2).
    rig.startAgent();
    const manageable = await vi.waitFor(async () => {
      expect(rig.agent!.exitStatus(), 'the agent exited').toBeUndefined();
      const node = await rig.api.getNode(uuid);
      expect(node.driver_internal_info.agent_url, 'a heartbeat recorded').toBeTypeOf('string');
      return node;
    }, { timeout: 60_000, interval: 500 });
    expect(manageable.provision_state).toBe('manageable');
    expect(manageable.power_state).toBe('power on');
    expect((await readIronicLog()).match(LOOKUP_200)?.length).toBe(1);
    expect(manageable.driver_internal_info.agent_url).toBe(`https://127.0.0.1:${rig.agentListenPort}`);
    // The API masks a stored token as "******"; its presence is what matters.
    expect(manageable.driver_internal_info.agent_secret_token).toBe('******');
  }, 120_000);

  it('cleans on provide through the running agent: clean steps sent at once, no power action, available with power on', async () => {
    whenFailed();
    marks.provide = (await readIronicLog()).length;
    await rig.api.setProvisionState(uuid, 'provide');
    cleaned = await rig.waitForState('available', STATE_TIMEOUT_MS);
    expect(cleaned.last_error).toBeNull();
    expect(cleaned.power_state).toBe('power on');
    // Fast track keeps the token and the agent's URL at the end of cleaning (conductor/utils.py wipe_cleaning_internal_info).
    expect(cleaned.driver_internal_info.agent_secret_token).toBe('******');
    expect(cleaned.driver_internal_info.agent_url).toBe(`https://127.0.0.1:${rig.agentListenPort}`);

    const log = (await readIronicLog()).slice(marks.provide);
    expect(sentCommands(log, uuid)).toEqual(['clean.get_clean_steps', 'clean.execute_clean_step']);
    expect(log).toMatch(new RegExp(`List of the steps for automated cleaning of node ${uuid}: \\[\\{'step': 'erase_devices_metadata'`));
    expect(log).toContain(`Agent on node ${uuid} returned clean command success`);
    expect(log).toContain(`Node ${uuid} cleaning complete`);
    expect(powerActions(log, uuid), 'power actions while cleaning').toEqual([]);
    for (const disk of rig.disks) expect({ disk, ...(await readDiskSignatures(disk)) }).toEqual({ disk, ...CLEAN_DISK });
    // One token stored from the lookup in manageable to available.
    const tokens = await readIssuedAgentTokens(rig.ironic.databasePath);
    expect(tokens).toHaveLength(1);
    cleaningToken = tokens[0];
  }, STATE_TIMEOUT_MS + 30_000);

  it('deploys a whole-disk image to active through the same agent and the token of its one lookup', async () => {
    whenFailed();
    after(cleaned, 'cleaning to available');
    marks.deploy = (await readIronicLog()).length;
    await rig.api.updateNode(uuid, [
      { op: 'add', path: '/instance_info/image_source', value: `${rig.images.url}/disk.img` },
      { op: 'add', path: '/instance_info/image_os_hash_algo', value: 'sha256' },
      { op: 'add', path: '/instance_info/image_os_hash_value', value: rig.image.sha256 },
      { op: 'add', path: '/instance_info/image_disk_format', value: 'raw' },
    ]);
    await rig.api.setProvisionState(uuid, 'active');
    deployed = await rig.waitForState('active', STATE_TIMEOUT_MS);
    expect(deployed.last_error).toBeNull();
    expect(deployed.driver_internal_info.root_uuid_or_disk_id).toBe(mbrDiskSignature(await readFile(rig.image.path)));

    const log = (await readIronicLog()).slice(marks.deploy);
    expect(log).toContain(`Performing a fast track deployment for ${uuid}`);
    expect(sentCommands(log, uuid)).toEqual(['deploy.get_deploy_steps', 'deploy.execute_deploy_step',
      'standby.get_partition_uuids', 'image.install_bootloader', 'standby.power_off']);
    // Nothing powered the node off or rebooted it before the agent's own power_off (§4 tear_down_agent).
    const beforePowerOff = log.slice(0, log.indexOf(`Executing agent command standby.power_off for node ${uuid}`));
    expect(powerActions(beforePowerOff, uuid), 'power actions before tear_down_agent').toEqual([]);

    expect(await deployedImageDigest(rig.disks[1]!, rig.image.size)).toBe(await deployedImageDigest(rig.image.path, rig.image.size));
    expect(await readDeployedMarker(rig.disks[1]!)).toEqual({ diskGuid: rig.image.diskGuid, marker: rig.image.marker });
    expect(await readDiskSignatures(rig.disks[0]!)).toEqual(CLEAN_DISK);
  }, STATE_TIMEOUT_MS + 30_000);

  it('looked the node up exactly once from manageable to active, and kept that token until the power off', async () => {
    whenFailed();
    after(deployed, 'the fast-track deploy');
    const log = await readIronicLog();
    const powerOff = log.indexOf(`Executing agent command standby.power_off for node ${uuid}`);
    expect(powerOff).toBeGreaterThan(0);
    // Ironic's API access log: one lookup answered with the node (and a
    // token) before the power off. After it the agent starts over and may
    // find the node still `deploying`, with the token withheld ("******"),
    // until Ironic powers it off and wipes the token; in `active` lookups get 404.
    expect(log.slice(0, powerOff).match(LOOKUP_200)?.length, 'lookups Ironic answered 200 before the power off').toBe(1);
    expect(log.slice(0, powerOff)).not.toContain(`Invalid or missing agent_token received for node ${uuid}`);
    // The conductor generated one token before the power off (manager.py
    // get_node_with_token logs each), and it is the first the audit trigger
    // saw: the one kept through cleaning.
    const generated = (text: string) => text.split(`Generating agent token for node ${uuid}`).length - 1;
    expect(generated(log.slice(0, powerOff)), 'tokens generated before the power off').toBe(1);
    const tokens = await readIssuedAgentTokens(rig.ironic.databasePath);
    expect(tokens[0]).toBe(after(cleaningToken, 'the token check after cleaning'));
    // Every one stored went through a logged generation (none slipped past the count above).
    expect(tokens).toHaveLength(generated(log));

    // The agent's side: one lookup, one token taken, no start-over until it was told to power off.
    const records = await readAgentLog();
    const powerOffRecord = records.findIndex((record) => record.msg === 'command started' && record.cmd === 'power_off');
    expect(powerOffRecord, 'the agent logged standby.power_off').toBeGreaterThan(0);
    const untilPowerOff = records.slice(0, powerOffRecord);
    expect(untilPowerOff.filter((record) => record.msg === 'node found by lookup')).toHaveLength(1);
    expect(untilPowerOff.filter((record) => record.msg === 'received the agent token from the lookup')).toHaveLength(1);
    expect(untilPowerOff.filter((record) => String(record.msg).startsWith('starting over'))).toEqual([]);
    const commands = untilPowerOff.filter((record) => record.msg === 'command started').map((record) => String(record.cmd));
    expect(commands).toEqual(['get_clean_steps', 'execute_clean_step', 'get_deploy_steps', 'execute_deploy_step', 'get_partition_uuids', 'install_bootloader']);
  });

  it('fails a rebuild whose image checksum is another file\'s, and Ironic collects and stores the agent\'s logs for the node', async () => {
    whenFailed();
    after(deployed, 'the fast-track deploy');
    marks.rebuild = (await readIronicLog()).length;
    const otherDigest = createHash('sha256').update('not the image that nginx serves\n').digest('hex');
    await rig.api.updateNode(uuid, [{ op: 'replace', path: '/instance_info/image_os_hash_value', value: otherDigest }]);
    await rig.api.setProvisionState(uuid, 'rebuild');
    failed = await rig.waitForState('deploy failed', STATE_TIMEOUT_MS);
    // The agent's refusal, as Ironic recorded it: the digest it computed and the one it was given.
    expect(failed.last_error).toContain('write_image');
    expect(failed.last_error).toContain(`expected ${otherDigest}`);

    const log = (await readIronicLog()).slice(marks.rebuild);
    expect(sentCommands(log, uuid)).toContain('log.collect_system_logs');
    expect(log).not.toMatch(/Failed to (invoke collect_system_logs|collect logs|store the logs)|error when storing logs/);

    const stored = await listStoredRamdiskLogs(path.join(rig.ironic.stateDir, 'deploy-logs'), uuid);
    expect(stored.map((file) => path.basename(file))).toEqual([
      expect.stringMatching(new RegExp(`^${uuid}_${rig.node.name}_\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}-\\d{2}\\.tar\\.gz$`)),
    ]);
    const archive = await readRamdiskLogArchive(stored[0]!);
    // Outside the ramdisk the agent packs a note and its own log file (--log-file), not the host's journal.
    const agentLogEntry = rig.agentLogFile.replace(/^\/+/, '');
    expect(archive.entries).toEqual(expect.arrayContaining(['sandbox', agentLogEntry]));
    const agentLogInArchive = archive.texts.get(agentLogEntry)!;
    expect(readJsonLines(agentLogInArchive).some((record) => record.msg === 'node found by lookup')).toBe(true);
    // It holds the agent's account of this very failure.
    expect(agentLogInArchive).toContain(otherDigest.slice(0, 16));

    const tokens = await readIssuedAgentTokens(rig.ironic.databasePath);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    for (const [name, text] of archive.texts) expect(findIssuedTokens(text, tokens), `tokens in ${name}`).toEqual([]);
    for (const [name, text] of archive.texts) expect(findUnredactedTokens(text), `token-like values in ${name}`).toEqual([]);
  }, STATE_TIMEOUT_MS + 30_000);

  it('takes the node from deploy failed to active through the same agent process', async () => {
    whenFailed();
    after(failed, 'the failed rebuild');
    await rig.api.updateNode(uuid, [{ op: 'replace', path: '/instance_info/image_os_hash_value', value: rig.image.sha256 }]);
    await rig.api.setProvisionState(uuid, 'active');
    const redeployed = await rig.waitForState('active', STATE_TIMEOUT_MS);
    expect(redeployed.last_error).toBeNull();
    expect(rig.agent!.exitStatus()).toBeUndefined();
    expect(await deployedImageDigest(rig.disks[1]!, rig.image.size)).toBe(await deployedImageDigest(rig.image.path, rig.image.size));
    // Three downloads in all: the deploy, the refused rebuild, and this one.
    const downloads = (await rig.images.readAccessLog()).filter((entry) => entry.path === '/disk.img' && entry.method === 'GET' && entry.status === 200);
    expect(downloads).toHaveLength(3);
  }, STATE_TIMEOUT_MS + 30_000);

  it('never wrote any agent token that Ironic issued into the agent\'s log', async () => {
    whenFailed();
    after(deployed, 'the fast-track deploy');
    const tokens = await readIssuedAgentTokens(rig.ironic.databasePath);
    expect(tokens.length).toBeGreaterThan(0);
    const agentLog = await readFile(rig.agent!.logPath, 'utf8');
    expect(findIssuedTokens(agentLog, tokens), `tokens found in ${rig.agent!.logPath}`).toEqual([]);
    expect(findUnredactedTokens(agentLog)).toEqual([]);
  });
});

/** The agent commands Ironic sent to this node, in order, as its debug log names them. */
function sentCommands(log: string, nodeUuid: string): string[] {
  return [...log.matchAll(/Executing agent command (\S+) for node (\S+)/g)]
    .filter((match) => match[2] === nodeUuid).map((match) => match[1]!);
}

/**
 * Power offs and reboots Ironic carried out on the node (conductor/utils.py
 * node_power_action logs each as "... by <requested state>"), and power offs
 * it skipped because the node was already off (those wipe the token too).
 */
function powerActions(log: string, nodeUuid: string): string[] {
  const pattern = new RegExp(`Successfully set node ${nodeUuid} power state to [^.]*? by (power off|rebooting|soft rebooting|soft power off)\\.` +
    `|Not going to change node ${nodeUuid} power state because current state = requested state = '(power off|soft power off)'`, 'g');
  return [...log.matchAll(pattern)].map((match) => match[0]);
}
