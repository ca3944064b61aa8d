import { describeInput, IngotError, isIngotError, type NodeInfo, type StepKind, type StepRequest } from '@ingot/protocol';
import type { ManagerRegistry } from '../hardware/registry.ts';
import type { HardwareContext } from '../hardware/manager.ts';
import { defineExtension, type Extension } from './command.ts';

const failureCodes = { clean: 'INGOT_CLEANING_FAILED', deploy: 'INGOT_DEPLOYMENT_FAILED', service: 'INGOT_COMMAND_FAILED' } as const;

export interface StepCommandsDeps {
  registry: ManagerRegistry;
  hardware: HardwareContext;
  /** Called with the node of every step command: the agent caches the latest one (IPA's cache_node). */
  onNode?(node: NodeInfo): void;
  /** Called as a step is about to run (a step may write the disks: the agent forgets a cached image then). */
  beforeStep?(kind: StepKind, step: string): void;
}

/**
 * The `clean`, `deploy` and `service` extensions: `get_<kind>_steps` and
 * `execute_<kind>_step` (reference 4.2), all backed by the manager registry.
 */
export function createStepExtension(kind: StepKind, deps: StepCommandsDeps): Extension {
  const { registry, hardware } = deps;
  return defineExtension(kind, [
    {
      name: `get_${kind}_steps`,
      mode: 'sync',
      async run(params) {
        const node = readNode(params);
        if (node) deps.onNode?.(node);
        return { [`${kind}_steps`]: registry.steps(kind), hardware_manager_version: registry.versions() };
      },
    },
    {
      name: `execute_${kind}_step`,
      mode: 'async',
      async validate(params) {
        const step = params.step;
        if (step === null || typeof step !== 'object' || typeof (step as StepRequest).step !== 'string') {
          throw new IngotError('INGOT_INVALID_PARAMS', { details: `execute_${kind}_step needs "step", an object with a "step" name` });
        }
        const args = (step as StepRequest).args;
        if (args !== undefined && args !== null && (typeof args !== 'object' || Array.isArray(args))) {
          throw new IngotError('INGOT_INVALID_PARAMS', { details: `execute_${kind}_step: "step.args" must be an object, got ${describeInput(args)}` });
        }
        await registry.validateStep(kind, step as StepRequest, { ...hardware, node: readNode(params) ?? { uuid: 'unknown' } });
      },
      async run(params, ctx) {
        const step = params.step as StepRequest;
        const node = readNode(params) ?? { uuid: 'unknown' };
        deps.onNode?.(node);
        const expected = params[`${kind}_version`];
        if (expected !== null && expected !== undefined) checkVersions(expected, registry.versions());
        deps.beforeStep?.(kind, step.step);
        try {
          const result = await registry.runStep(kind, step, {
            ...hardware,
            log: ctx.log,
            node,
            ports: Array.isArray(params.ports) ? params.ports : [],
            signal: ctx.signal,
            progress: ctx.progress,
          });
          // Ironic matches the finished step by `<kind>_step` (ironic-conductor.md, process_next_step).
          return { [`${kind}_result`]: result, [`${kind}_step`]: step };
        } catch (error) {
          if (isIngotError(error)) throw error;
          const name = error instanceof Error ? error.constructor.name : 'Error';
          const message = error instanceof Error ? error.message : String(error);
          throw new IngotError(failureCodes[kind], { details: `Unexpected exception performing ${kind} step ${step.step}. ${name}: ${message}`, cause: error });
        }
      },
    },
  ]);
}

function readNode(params: Record<string, unknown>): NodeInfo | undefined {
  const node = params.node;
  return node !== null && typeof node === 'object' && typeof (node as NodeInfo).uuid === 'string' ? (node as NodeInfo) : undefined;
}

/**
 * The conductor's `<kind>_version` against the managers' versions (4.2): equal
 * when it is a flat object naming the same managers with the same version
 * strings. Compared entry by entry, so a deep or odd value from the wire is a
 * mismatch described by its kind, never a RangeError from serialising it.
 */
function checkVersions(expected: unknown, current: Record<string, string>): void {
  const given = expected !== null && typeof expected === 'object' && !Array.isArray(expected) ? Object.entries(expected as Record<string, unknown>) : undefined;
  const same = given !== undefined && given.length === Object.keys(current).length
    && given.every(([name, version]) => Object.hasOwn(current, name) && current[name] === version);
  if (!same) {
    const shown = given?.every(([, version]) => typeof version === 'string')
      ? JSON.stringify(Object.fromEntries(given.slice(0, 16).map(([name, version]) => [name.slice(0, 80), String(version).slice(0, 80)])))
      : describeInput(expected);
    throw new IngotError('INGOT_VERSION_MISMATCH', { details: `conductor expected ${shown}, agent has ${JSON.stringify(current)}` });
  }
}
