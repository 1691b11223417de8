import type { StagedValue } from './census.js';
import { takeCensus } from './census.js';
import type { PassDeps } from './pass-deps.js';
import { reencrypt } from './reencrypt.js';

/**
 * Abort's pass: re-encrypts every stored value under the pending version's keys back to the current
 * version's, with the same compare-and-swap pages as the rotation's own pass.
 * @returns the rows rewritten.
 */
export async function moveBack(current: StagedValue, pending: StagedValue, deps: PassDeps): Promise<number> {
  const report = await reencrypt({ target: current.secretString, sources: [pending.secretString] }, deps);
  return report.columns.reduce((sum, c) => sum + c.rewritten, 0);
}

/** Stored values under the pending key (counted per label, current first, so shared keys do not count). */
export async function rowsUnderPending(staged: readonly StagedValue[], deps: PassDeps): Promise<number> {
  const census = await takeCensus(staged, { ...deps, progress: undefined });
  return census.reduce((sum, c) => sum + c.pending, 0);
}
