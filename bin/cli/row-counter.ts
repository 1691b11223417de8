import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import type { Clock, Log } from '../../lambda/ports.js';
import { checkSecretValue } from '../../lambda/secret-template.js';
import { type AwsClients, rotationDeps } from './clients.js';
import { errorLine } from './exit-codes.js';
import { takeCensus } from './key-census.js';

/** Rows under the new key out of all stored values, or a one-time note on why there is no count. */
export type RowCount = { readonly done: number; readonly total: number } | { readonly note: string };

/** Counts, while a rotation runs, how many stored values are already under the pending key. */
export interface RowCounter {
  /** `undefined` when there is nothing (more) to say: no pending value yet, or counting was given up. */
  count(): Promise<RowCount | undefined>;
}

/**
 * A counter for `rotate-now --wait`. Only for codecs with a key id in clear text (rk1), where a count is
 * a few aggregate queries; for Fernet it would read every value on every poll, next to the rotation
 * doing the same, so it says so once instead. A failing count never fails the wait: it is reported
 * once and dropped.
 */
export function rowCounter(
  config: RekeyConfig,
  clients: AwsClients,
  secretId: string,
  versionId: string,
  log: Log,
  clock: Clock,
): RowCounter {
  const codec = codecFor(config.codec);
  const deps = rotationDeps(config, clients, { clock, log });
  let done = false;
  return {
    async count() {
      if (done) return undefined;
      if (!codec.formatPrefix) {
        done = true;
        return {
          note: `row progress needs a codec with a key id in clear text; ${config.codec} has none (\`rekey inventory\` counts its rows)`,
        };
      }
      try {
        const pending = await deps.secrets.getValue(secretId, { versionId, stage: 'AWSPENDING' });
        if (!pending) return undefined;
        checkSecretValue(pending.secretString, config.secretTemplate, `AWSPENDING version ${versionId}`);
        const key = dataKeyFromSecretString(pending.secretString, config.dataKeyField, config.codec);
        // Aggregate queries only, so the deadline is only there because the scan helpers want one.
        const census = await takeCensus(codec, [{ label: 'pending', versionId, key }], {
          ...deps,
          deadline: clock.now() + 60 * 60_000,
        });
        return {
          done: census.reduce((s, c) => s + c.pending, 0),
          total: census.reduce((s, c) => s + c.rows - c.nulls, 0),
        };
      } catch (error) {
        done = true;
        return { note: `row progress unavailable (${errorLine(error).replace(/^error: /, '')})` };
      }
    },
  };
}
