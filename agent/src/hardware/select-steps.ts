import type { StepDescription, StepKind } from '@ingot/protocol';
import { describeStep, type ActiveManager, type StepDefinition } from './manager.ts';

export interface StepCandidate {
  manager: string;
  support: number;
  step: StepDefinition;
}

/**
 * Orders the candidates for one step name: the manager's support level
 * first, then the step's priority, then the manager name (IPA's
 * deduplication, 5.5). Pure: the same managers always give the same answer.
 */
export function rankCandidates(candidates: readonly StepCandidate[]): StepCandidate[] {
  return [...candidates].sort((a, b) => b.support - a.support || b.step.priority - a.step.priority || compareNames(a.manager, b.manager));
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every manager's steps of one kind, grouped by step name. */
export function candidatesByName(managers: readonly ActiveManager[], kind: StepKind): Map<string, StepCandidate[]> {
  const byName = new Map<string, StepCandidate[]>();
  for (const { manager, support } of managers) {
    if (support <= 0) continue;
    for (const step of manager.steps) {
      if (step.kind !== kind) continue;
      const list = byName.get(step.name) ?? [];
      list.push({ manager: manager.name, support, step });
      byName.set(step.name, list);
    }
  }
  return byName;
}

/**
 * The steps of one kind as get_*_steps answers them: one winner per step
 * name, listed under its own manager's name.
 */
export function selectSteps(managers: readonly ActiveManager[], kind: StepKind): Record<string, StepDescription[]> {
  const result: Record<string, StepDescription[]> = {};
  for (const candidates of candidatesByName(managers, kind).values()) {
    const winner = rankCandidates(candidates)[0];
    if (!winner) continue;
    (result[winner.manager] ??= []).push(describeStep(winner.step));
  }
  return result;
}

/**
 * The candidates that may run a step, best first. A candidate returning
 * NOT_SUPPORTED hands the step to the next one (IPA's dispatch, 5.2).
 */
export function stepRunners(managers: readonly ActiveManager[], kind: StepKind, name: string): StepCandidate[] {
  return rankCandidates(candidatesByName(managers, kind).get(name) ?? []);
}
