/**
 * The fake agent's default commands: step listing and execution that behave
 * like IPA's (ipa-protocol.md §4.1, §4.2), a simulated `write_image` deploy
 * step (§9) reporting Ingot's command_progress, service steps, cache_image,
 * set_node_info, and rescue/lockdown that check what they are sent (the
 * server stops serving after them).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { IngotError, type StepDescription } from '@ingot/protocol';
import type { FakeAgentOptions, FakeCommandHandler } from './fake-agent-types.ts';

export const FAKE_MANAGER = 'FakeHardwareManager';

const defaultSteps: StepDescription[] = [
  { step: 'erase_devices_metadata', priority: 99, interface: 'deploy', reboot_requested: false, abortable: true },
  { step: 'erase_devices', priority: 0, interface: 'deploy', reboot_requested: false, abortable: true },
];

/** IPA lists its in-band deploy steps with priority 0: they run only when a conductor asks (ironic-conductor.md §4). */
const defaultDeploySteps: StepDescription[] = [
  { step: 'write_image', priority: 0, interface: 'deploy', reboot_requested: false, abortable: false },
  { step: 'erase_devices_metadata', priority: 0, interface: 'deploy', reboot_requested: false, abortable: false },
];

const defaultServiceSteps: StepDescription[] = [
  { step: 'write_image', priority: 0, interface: 'deploy', reboot_requested: false, abortable: false },
];

/** A crypt(3) hash shape, as the real agent checks it (no colon or newline could split a shadow line). */
const CRYPT_HASH = /^\$(?:1|2[abxy]|5|6|7|y|gy)\$[./0-9A-Za-z$=,]{1,500}$/;

/** The request-time checks of the default commands; a throw is an HTTP 400. */
export function defaultFakeValidators(options: FakeAgentOptions): Record<string, (params: Record<string, unknown>) => void> {
  return {
    'rescue.finalize_rescue': (params) => {
      if (options.legacyRescue && 'hashed' in params) throw new IngotError('INGOT_INVALID_PARAMS', { details: 'finalize_rescue() got an unexpected keyword argument \'hashed\'' });
      const { rescue_password: password, hashed = false } = params;
      if (typeof hashed !== 'boolean') throw new IngotError('INGOT_INVALID_PARAMS', { details: '"hashed" must be true or false' });
      if (typeof password !== 'string' || password === '') throw new IngotError('INGOT_INVALID_PARAMS', { details: '"rescue_password" must be a non-empty string' });
      if (hashed && !CRYPT_HASH.test(password)) throw new IngotError('INGOT_INVALID_PARAMS', { details: '"rescue_password" with "hashed": true must be a crypt(3) hash' });
    },
    'poll.set_node_info': (params) => {
      const node = (params.node_info as { node?: { uuid?: unknown } } | undefined)?.node;
      if (typeof node?.uuid !== 'string') throw new IngotError('INGOT_INVALID_PARAMS', { details: '"node_info.node" must be an object with a non-empty "uuid" string' });
    },
  };
}

/** The MBR disk signature the fake reports as `root uuid` after a write (ipa-protocol.md §9.5, step 8). */
export const FAKE_DISK_IDENTIFIER = '0x1234abcd';
/** The fake agent's one disk, as `poll.get_hardware_info` lists it. */
export const FAKE_DISK = { name: '/dev/vda', size: 64 * 1024 * 1024, logical_sectors: 512, physical_sectors: 512 } as const;

function sameVersion(a: unknown, b: Record<string, string>): boolean {
  return JSON.stringify(Object.entries((a ?? {}) as object).sort()) === JSON.stringify(Object.entries(b).sort());
}

export function defaultFakeHandlers(options: FakeAgentOptions): Record<string, FakeCommandHandler> {
  const steps = options.steps ?? defaultSteps;
  const deploySteps = options.deploySteps ?? defaultDeploySteps;
  const serviceSteps = options.serviceSteps ?? defaultServiceSteps;
  let cachedImage: string | undefined;
  let partitionUuids: Record<string, unknown> = { 'root uuid': '00000000-0000-4000-8000-000000000001' };
  const version = options.hardwareManagerVersion ?? { [FAKE_MANAGER]: '1.0' };
  const duration = options.stepDurationMs ?? 20;

  type Kind = 'clean' | 'deploy' | 'service';
  const stepsOf = (kind: Kind) => (kind === 'clean' ? steps : kind === 'deploy' ? deploySteps : serviceSteps);
  const getSteps = (kind: Kind): FakeCommandHandler => () => ({
    [`${kind}_steps`]: { [FAKE_MANAGER]: stepsOf(kind) },
    hardware_manager_version: version,
  });

  const executeStep = (kind: Kind): FakeCommandHandler => async (params, context) => {
    const requested = params[`${kind}_version`];
    // IPA compares only when a version was sent (null skips the check).
    if (requested !== null && requested !== undefined && !sameVersion(requested, version)) {
      throw new IngotError('INGOT_VERSION_MISMATCH', { details: `expected ${JSON.stringify(version)}, got ${JSON.stringify(requested)}` });
    }
    const step = params.step as { step?: unknown; args?: Record<string, unknown> } | undefined;
    if (typeof step?.step !== 'string') throw new IngotError('INGOT_INVALID_PARAMS', { details: 'step.step is required' });
    if (!stepsOf(kind).some((known) => known.step === step.step)) {
      throw new IngotError('INGOT_STEP_NOT_FOUND', { details: `no manager handles ${step.step}` });
    }
    if (kind !== 'clean' && step.step === 'write_image') {
      const result = await writeImage(step.args ?? {}, context);
      return { [`${kind}_result`]: { result }, [`${kind}_step`]: step };
    }
    cachedImage = undefined;
    context.setProgress({ stage: step.step, done: 0, total: 1, unit: 'devices' });
    await sleep(duration);
    context.setProgress({ stage: step.step, done: 1, total: 1, unit: 'devices' });
    return { [`${kind}_result`]: null, [`${kind}_step`]: step };
  };

  /** Simulates a download of `imageBytes` in `imageChunks` polls' worth of progress, as the real agent reports it. */
  const writeImage = async (args: Record<string, unknown>, context: Parameters<FakeCommandHandler>[1], verb = 'prepare_image', force = false): Promise<string> => {
    const info = args.image_info as Record<string, unknown> | undefined;
    const urls = info?.urls;
    if (typeof info?.id !== 'string' || !Array.isArray(urls) || urls.length === 0) {
      throw new IngotError('INGOT_INVALID_PARAMS', { details: 'image_info needs id and a non-empty urls list' });
    }
    if (!info.checksum && !(info.os_hash_algo && info.os_hash_value)) {
      throw new IngotError('INGOT_INVALID_PARAMS', { details: 'image_info needs checksum or os_hash_algo and os_hash_value' });
    }
    if (cachedImage === info.id && !force) {
      partitionUuids = { 'root uuid': FAKE_DISK_IDENTIFIER };
      return `${verb}: image (${info.id}) already present on device /dev/fake0 root_uuid=${FAKE_DISK_IDENTIFIER}`;
    }
    cachedImage = undefined;
    partitionUuids = {};
    const total = options.imageBytes ?? 64 * 1024 * 1024;
    const chunks = Math.max(1, options.imageChunks ?? 4);
    for (let chunk = 0; chunk <= chunks; chunk++) {
      context.setProgress({ stage: 'writing image', done: Math.round((total * chunk) / chunks), total, unit: 'bytes' });
      if (chunk < chunks) await sleep(duration / chunks);
    }
    partitionUuids = { 'root uuid': FAKE_DISK_IDENTIFIER };
    if (verb === 'cache_image') {
      cachedImage = info.id;
      return `cache_image: image (${info.id}) cached to device /dev/fake0 root_uuid=${FAKE_DISK_IDENTIFIER}`;
    }
    return `prepare_image: image (${info.id}) written to device /dev/fake0 root_uuid=${FAKE_DISK_IDENTIFIER}`;
  };

  const nothing: FakeCommandHandler = () => null;
  return {
    'poll.get_hardware_info': () => ({ disks: [FAKE_DISK], interfaces: [], cpu: { count: 2 }, memory: { total: 1024 ** 3 } }),
    'clean.get_clean_steps': getSteps('clean'),
    'clean.execute_clean_step': executeStep('clean'),
    'deploy.get_deploy_steps': getSteps('deploy'),
    'deploy.execute_deploy_step': executeStep('deploy'),
    'standby.get_partition_uuids': () => partitionUuids,
    'standby.sync': nothing,
    'standby.power_off': nothing,
    'standby.run_image': nothing,
    'image.install_bootloader': nothing,
    'log.collect_system_logs': () => ({ system_logs: Buffer.from('fake logs').toString('base64') }),
    'service.get_service_steps': getSteps('service'),
    'service.execute_service_step': executeStep('service'),
    'standby.prepare_image': async (params, context) => ({ result: await writeImage(params, context) }),
    'standby.cache_image': async (params, context) => {
      const { configdrive: _dropped, ...imageInfo } = (params.image_info ?? {}) as Record<string, unknown>;
      return { result: await writeImage({ image_info: imageInfo }, context, 'cache_image', params.force === true) };
    },
    'poll.set_node_info': nothing,
    'rescue.finalize_rescue': nothing,
    'system.lockdown': nothing,
  };
}
