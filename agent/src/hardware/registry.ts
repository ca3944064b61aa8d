import { IngotError, type NodeInfo, type StepDescription, type StepKind, type StepRequest } from '@ingot/protocol';
import { NOT_SUPPORTED, type ActiveManager, type HardwareContext, type HardwareManager, type StepContext, type ValidateContext } from './manager.ts';
import { selectSteps, stepRunners } from './select-steps.ts';

export interface ManagerRegistry {
  readonly active: readonly ActiveManager[];
  /** `{ <manager name>: <version> }` of every active manager (5.4). */
  versions(): Record<string, string>;
  steps(kind: StepKind): Record<string, StepDescription[]>;
  runStep(kind: StepKind, step: StepRequest, ctx: Omit<StepContext, 'node'> & { node: NodeInfo }): Promise<unknown>;
  /** The validation of the step that would run first (nothing when it has none, or no manager offers the step). */
  validateStep(kind: StepKind, step: StepRequest, ctx: ValidateContext): Promise<void>;
}

/**
 * Evaluates each manager's support once, drops those at 0, and orders the
 * rest by support (highest first; ties keep registration order).
 */
export async function createManagerRegistry(managers: readonly HardwareManager[], ctx: HardwareContext): Promise<ManagerRegistry> {
  const names = new Set<string>();
  for (const manager of managers) {
    if (names.has(manager.name)) throw new IngotError('INGOT_CONFIG_INVALID', { details: `two hardware managers are named "${manager.name}"` });
    names.add(manager.name);
  }
  const evaluated: ActiveManager[] = [];
  for (const manager of managers) {
    const support = await manager.evaluateSupport(ctx);
    ctx.log.info({ manager: manager.name, version: manager.version, support }, 'hardware manager evaluated');
    if (support > 0) evaluated.push({ manager, support });
  }
  const active = evaluated.map((entry, index) => ({ entry, index }))
    .sort((a, b) => b.entry.support - a.entry.support || a.index - b.index)
    .map(({ entry }) => entry);
  for (const { manager } of active) await manager.initialize?.(ctx);

  return {
    active,
    versions: () => Object.fromEntries(active.map(({ manager }) => [manager.name, manager.version])),
    steps: (kind) => selectSteps(active, kind),
    async validateStep(kind, step, validateCtx) {
      const [first] = stepRunners(active, kind, step.step);
      await first?.step.validate?.(validateCtx, step.args ?? {});
    },
    async runStep(kind, step, stepCtx) {
      const args = step.args ?? {};
      for (const candidate of stepRunners(active, kind, step.step)) {
        const log = stepCtx.log.child({ step: step.step, manager: candidate.manager });
        log.info({ args: Object.keys(args) }, 'step started');
        const outcome = await candidate.step.run({ ...stepCtx, log }, args);
        if (outcome === NOT_SUPPORTED) {
          log.info('step not supported by this manager; trying the next');
          continue;
        }
        log.info('step finished');
        return outcome ?? null;
      }
      throw new IngotError('INGOT_STEP_NOT_FOUND', { details: `Could not find method: ${step.step} (no ${kind} step of that name is supported here)` });
    },
  };
}
