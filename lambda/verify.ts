import type { Codec, DataKey, FieldContext } from './codecs/types.js';
import { StrandedRowsError } from './errors.js';
import type { SqlRunner } from './ports.js';
import { openTables } from './reencrypt.js';
import { retried, type ScanDeps, scanColumn } from './scan.js';
import { asText, type RowId, type TableSql } from './sql.js';

const REPORTED_IDS = 20;

/** What a full read of one column found, by row count; ids only, never values. */
export interface ColumnVerification {
  readonly table: string;
  readonly column: string;
  rows: number;
  underTarget: number;
  /** Readable, but under another staged key (written by the app after the last pass). */
  offTarget: number;
  plaintext: number;
  undecryptable: number;
  readonly offTargetIds: RowId[];
  readonly plaintextIds: RowId[];
  readonly undecryptableIds: RowId[];
}

/**
 * Reads every stored value and proves it decrypts with `target` alone. Values under one of `others`
 * are counted as off target; values in no key's format as plaintext; the rest as undecryptable.
 * Read-only.
 */
export async function verifyAll(
  codec: Codec,
  target: DataKey,
  others: readonly DataKey[],
  deps: ScanDeps & { readonly db: SqlRunner },
): Promise<ColumnVerification[]> {
  const tables = await openTables(deps.db, deps.config);
  const results: ColumnVerification[] = [];
  const work: { table: TableSql; column: string; avgBytes: number }[] = [];
  let total = 0;
  for (const table of tables) {
    for (const column of table.table.columns) {
      const stats = await retried(deps, () => table.stats(column));
      total += stats.rows;
      work.push({ table, column, avgBytes: stats.avgBytes });
    }
  }
  const progress = { done: 0, total };
  for (const { table, column, avgBytes } of work) {
    const result = emptyVerification(table.name, column);
    const where: FieldContext = { table: table.table.table, column };
    await scanColumn(deps, table, column, { avgBytes, skipPrefix: undefined, progress }, async (rows) => {
      for (const row of rows) {
        result.rows++;
        const text = asText(row.value);
        const found = codec.classify(text, [target, ...others], where);
        if (found.kind === 'plaintext') {
          result.plaintext++;
          note(result.plaintextIds, row.id);
        } else if (found.kind === 'key' && found.key.kid !== target.kid) {
          result.offTarget++;
          note(result.offTargetIds, row.id);
        } else if (found.kind === 'key' && opens(codec, text, target, where)) {
          result.underTarget++;
        } else {
          result.undecryptable++;
          note(result.undecryptableIds, row.id);
        }
      }
      return { verified: rows.length };
    });
    results.push(result);
  }
  return results;
}

/**
 * Refuses to go on when stored rows carry a key id that none of the reachable versions holds: a manual
 * PutSecretValue mid-rotation makes the service drop AWSPENDING, and the rows already moved to that key
 * would be stranded by another pass. Only codecs with a clear-text key id can be checked this way (in
 * SQL, without reading values); Fernet rows are checked row by row during the pass instead.
 * @throws StrandedRowsError naming the table, column, key ids (public) and row counts.
 */
export async function checkKeysReachable(
  codec: Codec,
  reachable: readonly DataKey[],
  deps: ScanDeps & { readonly db: SqlRunner },
): Promise<void> {
  const sample = reachable[0];
  if (!codec.formatPrefix || !sample) return;
  const prefixLength = codec.sqlPrefix(sample)?.length;
  if (!prefixLength) return;
  const known = new Set(reachable.map((k) => codec.sqlPrefix(k)));
  const stranded: string[] = [];
  for (const table of await openTables(deps.db, deps.config)) {
    for (const column of table.table.columns) {
      const counts = await retried(deps, () =>
        table.countByPrefix(column, codec.formatPrefix as string, prefixLength),
      );
      for (const [prefix, rows] of counts) {
        if (!known.has(prefix))
          stranded.push(`${table.name}.${column}: ${rows} rows under key id '${prefix}'`);
      }
    }
  }
  if (stranded.length > 0) {
    throw new StrandedRowsError(
      `stored rows use keys that no version staged AWSCURRENT, AWSPENDING or AWSPREVIOUS holds (${stranded.join('; ')}); ` +
        'a value was probably written to the secret during a rotation. Refusing to go on rather than strand them: ' +
        'see docs/operations.md, "Rows under an unstaged key"',
    );
  }
}

function opens(codec: Codec, text: string, key: DataKey, where: FieldContext): boolean {
  try {
    codec.decrypt(text, key, where);
    return true;
  } catch {
    return false;
  }
}

function note(ids: RowId[], id: RowId): void {
  if (ids.length < REPORTED_IDS) ids.push(id);
}

function emptyVerification(table: string, column: string): ColumnVerification {
  return {
    table,
    column,
    rows: 0,
    underTarget: 0,
    offTarget: 0,
    plaintext: 0,
    undecryptable: 0,
    offTargetIds: [],
    plaintextIds: [],
    undecryptableIds: [],
  };
}
