import type { Clock, Log } from '../../lambda/index.js';
import { checkSecretValue, codecFor, type RekeyConfig, tableCodec, takeCensus } from '../../lambda/index.js';
import { explainError } from './aws-errors.js';
import { type AwsClients, rotationDeps } from './clients.js';
import { errorLine } from './exit-codes.js';

/** Rows under the new key out of the stored values counted, and a note to print once, if any. */
export interface RowCount {
  readonly rows?: { readonly done: number; readonly total: number };
  readonly note?: string;
}

/** Counts, while a rotation runs, how many stored values are already under the pending key. */
export interface RowCounter {
  /** `undefined` when there is nothing (more) to say: no pending value yet, or counting was given up. */
  count(): Promise<RowCount | undefined>;
}

/**
 * A counter for `rotate-now --wait`. Counts only tables whose codec has a key id in clear text (rk1),
 * where a count is a few aggregate queries; for Fernet it would read every value on every poll, next to
 * the rotation doing the same, so it says so once instead. A failing count never fails the wait: it is
 * reported once and dropped.
 */
export function rowCounter(
  config: RekeyConfig,
  clients: AwsClients,
  secretId: string,
  versionId: string,
  log: Log,
  clock: Clock,
): RowCounter {
  const deps = rotationDeps(config, clients, { clock, log });
  const uncounted = config.storedFields
    .filter((t) => !codecFor(tableCodec(config, t).codec).formatPrefix)
    .map((t) => (t.schema ? `${t.schema}.${t.table}` : t.table));
  const counted = config.storedFields.length - uncounted.length;
  let note =
    uncounted.length > 0
      ? `row progress leaves out ${uncounted.join(', ')}: its codec has no key id in clear text (\`rekey inventory\` counts it)`
      : undefined;
  let done = false;
  const once = () => {
    const n = note;
    note = undefined;
    return n;
  };
  return {
    async count() {
      if (done) return undefined;
      if (counted === 0) {
        done = true;
        return { note: once() };
      }
      try {
        const pending = await deps.secrets.getValue(secretId, { versionId, stage: 'AWSPENDING' });
        if (!pending) return undefined;
        checkSecretValue(pending.secretString, config.secretTemplate, `AWSPENDING version ${versionId}`);
        // Aggregate queries only; the deadline is there because the scan helpers want one.
        const census = await takeCensus(
          [{ label: 'pending', versionId, secretString: pending.secretString }],
          { ...deps, deadline: clock.now() + 60 * 60_000 },
          { prefixOnly: true },
        );
        return {
          note: once(),
          rows: {
            done: census.reduce((s, c) => s + c.pending, 0),
            total: census.reduce((s, c) => s + c.rows - c.nulls, 0),
          },
        };
      } catch (error) {
        done = true;
        return {
          note: `row progress unavailable (${errorLine(explainError(error)).replace(/^error: /, '')})`,
        };
      }
    },
  };
}
