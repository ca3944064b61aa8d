import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import type { HardwareManager } from './manager.ts';

/**
 * Loads custom hardware managers from a directory: every `*.js` / `*.mjs`
 * module whose default export (or `managers` export) is a manager, a list of
 * managers, or a function returning either.
 */
export async function loadManagersFromDirectory(directory: string, system: Pick<System, 'listDir'>): Promise<HardwareManager[]> {
  let entries: string[];
  try {
    entries = (await system.listDir(directory)).filter((name) => /\.(m?js)$/.test(name)).sort();
  } catch (error) {
    throw new IngotError('INGOT_CONFIG_INVALID', { details: `cannot read the hardware manager directory ${directory}: ${(error as Error).message}`, cause: error });
  }
  const managers: HardwareManager[] = [];
  for (const name of entries) {
    const path = resolve(join(directory, name));
    const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    let exported = module.default ?? module.managers;
    if (typeof exported === 'function') exported = await (exported as () => unknown)();
    const list = Array.isArray(exported) ? exported : [exported];
    for (const candidate of list) {
      if (!isManager(candidate)) {
        throw new IngotError('INGOT_CONFIG_INVALID', { details: `${path} does not export a hardware manager ({ name, version, evaluateSupport, steps })` });
      }
      managers.push(candidate);
    }
  }
  return managers;
}

function isManager(value: unknown): value is HardwareManager {
  const record = value as Partial<HardwareManager> | null;
  return !!record && typeof record.name === 'string' && typeof record.version === 'string'
    && typeof record.evaluateSupport === 'function' && Array.isArray(record.steps);
}
