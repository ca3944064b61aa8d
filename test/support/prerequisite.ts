/**
 * What a test needs from the machine it runs on: root, a free loop device, a
 * tool from a Debian package, Debian's Ironic. Where it is missing, a test is
 * skipped with the reason printed; but with CI set (to anything) it fails,
 * naming what is missing, because CI is where these tests must prove what
 * they prove, and a skip there reads as a pass (issue 9). The QEMU tests in
 * test/e2e follow the same rule with their own check.
 */
import { beforeAll, describe, it, type TestFunction } from 'vitest';

export const inCi = Boolean(process.env.CI);

export interface Prerequisite {
  /** Why the tests cannot run here, or null when they can. */
  readonly missing: string | null;
  /** Skipped: something is missing and CI is not set. */
  readonly skipped: boolean;
  /** Throws an error naming what is missing; does nothing when nothing is. */
  check(): void;
  /** A `describe` whose tests are skipped (outside CI) or fail (in CI) when the prerequisite is missing. */
  describe(name: string, body: () => void): void;
  /** An `it`, likewise. */
  it(name: string, body: TestFunction, timeout?: number): void;
}

/**
 * `purpose` names the tests ("the loop-device erase tests"); `missing` is the
 * answer of a check such as `loopUnavailableReason()`, null when all is there.
 */
export function prerequisite(purpose: string, missing: string | null | undefined): Prerequisite {
  const reason = missing || null;
  const skipped = reason !== null && !inCi;
  if (skipped) console.log(`[skip] ${purpose}: ${reason} (this fails instead when CI is set)`);
  const check = () => {
    if (reason !== null) throw new Error(`${purpose} cannot run: ${reason}. CI is set, so this is a failure rather than a skip.`);
  };
  return {
    missing: reason,
    skipped,
    check,
    describe(name, body) {
      describe.skipIf(skipped)(name, () => {
        // First of the suite's hooks: nothing else is set up on a machine that lacks the prerequisite.
        beforeAll(check);
        body();
      });
    },
    it(name, body, timeout) {
      it.skipIf(skipped)(name, (context) => {
        check();
        return body(context);
      }, timeout);
    },
  };
}
