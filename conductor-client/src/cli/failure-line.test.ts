import { describe, expect, it } from 'vitest';
import { IngotError, parseFault, renderFault } from '@ingot/protocol';
import { failureHint, failureLine, jsonError, type FailureContext } from './failure-line.ts';

const CONTEXT: FailureContext = {
  nodeUuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01', macs: ['52:54:00:12:34:56'], conductorUrl: 'http://127.0.0.1:6385',
  agentUrl: 'https://127.0.0.1:9999', image: { url: 'http://192.0.2.1/disk.img', algorithm: 'sha256' }, timeoutSeconds: 3600, verbose: false,
  raidConfigPath: 'examples/raid-two-volumes.json', logsPath: 'ramdisk-logs/1be26c0b_2024-01-01-00-00-00.tar.gz',
};

/** A refusal as the driver gets it: the agent's 400 fault read back by the client, wrapped by the deploy driver. */
const refusedOnTheWire = (details: string) => new IngotError('INGOT_DEPLOYMENT_FAILED', {
  details: 'raid.apply_configuration could not be started on the agent',
  cause: parseFault(400, JSON.parse(JSON.stringify(renderFault(new IngotError('INGOT_RAID_CONFIG_INVALID', { details }))))),
});

describe('the failure line of a deploy onto software RAID', () => {
  it('sends a refused RAID configuration back to the file, naming the volume once, and to the README', () => {
    const error = refusedOnTheWire('logical_disks[1] ("data"): RAID 5 needs at least 3 member disks, physical_disks lists 2');
    const line = failureLine(error, CONTEXT);
    expect(line).toMatch(/^node 1be26c0b-\S+: raid\.apply_configuration could not be started on the agent: .*logical_disks\[1\] \("data"\): RAID 5 needs at least 3 member disks, physical_disks lists 2; try: /);
    expect(line.endsWith('; try: fix the logical disk named in the message in examples/raid-two-volumes.json; see README: Software RAID')).toBe(true);
    expect(line.match(/logical_disks\[1\]/g)).toHaveLength(1);
    expect(jsonError(error, failureHint(error, CONTEXT))).toMatchObject({ code: 'INGOT_RAID_CONFIG_INVALID', codes: ['INGOT_DEPLOYMENT_FAILED', 'INGOT_RAID_CONFIG_INVALID'] });
  });

  it('says which configuration to fix when no file is known (a library caller\'s node)', () => {
    const { raidConfigPath: _path, ...withoutFile } = CONTEXT;
    expect(failureHint(refusedOnTheWire('logical_disks[0]: x'), withoutFile)).toBe('fix the logical disk named in the message in the target_raid_config; see README: Software RAID');
  });

  it('points at another agent or a deploy without --raid-config when the agent cannot build software RAID', () => {
    const error = new IngotError('INGOT_DEPLOYMENT_FAILED', { details: 'raid.apply_configuration', cause: new IngotError('INGOT_STEP_NOT_FOUND', { details: 'the agent offers no raid.apply_configuration deploy step' }) });
    expect(failureHint(error, CONTEXT)).toBe('boot a ramdisk whose agent offers the step named above (Ingot\'s agent offers raid.apply_configuration), or deploy without --raid-config');
    const { raidConfigPath: _path, ...withoutRaid } = CONTEXT;
    expect(failureHint(error, withoutRaid)).toBe('boot a ramdisk whose agent offers the step named above');
  });

  it('points at mdadm\'s output in the ramdisk logs when building the arrays failed on the agent', () => {
    const error = new IngotError('INGOT_DEPLOYMENT_FAILED', { details: 'raid.apply_configuration failed on the agent', cause: new IngotError('INGOT_RAID_FAILED', { details: 'mdadm: cannot open /dev/sdb1' }) });
    expect(failureHint(error, CONTEXT)).toBe(`see mdadm's output in the ramdisk logs in ${CONTEXT.logsPath}`);
    const { logsPath: _logs, ...withoutLogs } = CONTEXT;
    expect(failureHint(error, withoutLogs)).toBe('run again with --collect-logs on-failure for mdadm\'s output in the ramdisk logs');
  });
});
