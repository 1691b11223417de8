import type { Codec, DataKey, FieldContext } from './codecs/types.js';
import { StrandedRowsError } from './errors.js';
import type { ProgressSink, SqlRunner } from './ports.js';
import { openTables } from './reencrypt.js';
import { forEachInTurns, retried, type ScanDeps, scanColumn } from './scan.js';
import { asText, type RowId, type TableSql } from './sql.js';
import { type KeyVersions, type TableKeys, tableKeys } from './table-keys.js';

const REPORTED_IDS = 20;

/** What a full read of one column found, by row count; ids only, never values. */
export interface ColumnVerification {
  readonly table: string;
  readonly column: string;
  rows: number;
  underTarget: number;
  /** Readable, but under another staged key (written by the app after the last pass). */
  offTarget: number;
  /**
   * Of `offTarget`, those under a key older than the first source's (AWSCURRENT in a rotation): the
   * rows that promotion would strand, since AWSPREVIOUS moves on to the current version.
   */
  offOlder: number;
  plaintext: number;
  undecryptable: number;
  readonly offOlderIds: RowId[];
  readonly plaintextIds: RowId[];
  readonly undecryptableIds: RowId[];
}

/**
 * Reads every stored value and proves it decrypts with the `target` version's key alone. Values under
 * one of the `sources` versions' keys
 * are counted as off target; values in no key's format as plaintext; the rest as undecryptable.
 * Read-only.
 */
export async function verifyAll(
  versions: KeyVersions,
  deps: ScanDeps & { readonly db: SqlRunner; readonly progress?: ProgressSink },
): Promise<ColumnVerification[]> {
  const tables = await openTables(deps);
  const results: ColumnVerification[] = [];
  const work: {
    table: TableSql;
    keys: TableKeys;
    firstSourceKid: string | undefined;
    column: string;
    avgBytes: number;
  }[] = [];
  let total = 0;
  const first = versions.sources[0];
  for (const table of tables) {
    const keys = tableKeys(deps.config, table.table, versions);
    const firstSourceKid =
      first === undefined
        ? undefined
        : tableKeys(deps.config, table.table, { target: first, sources: [] }).target.kid;
    for (const column of table.table.columns) {
      const stats = await retried(deps, () => table.stats(column));
      total += stats.rows;
      work.push({ table, keys, firstSourceKid, column, avgBytes: stats.avgBytes });
    }
  }
  const progress = { done: 0, total };
  for (const { table, keys, firstSourceKid, column, avgBytes } of work) {
    const { codec, target } = keys;
    const result = emptyVerification(table.name, column);
    const where: FieldContext = { table: table.table.table, column };
    await scanColumn(deps, table, column, { avgBytes, skipPrefix: undefined, progress }, async (rows) => {
      await forEachInTurns(rows, (row) => {
        result.rows++;
        const text = asText(row.value);
        const found = codec.classify(text, [target, ...keys.sources], where);
        if (found.kind === 'plaintext') {
          result.plaintext++;
          note(result.plaintextIds, row.id);
        } else if (found.kind === 'key' && found.key.kid !== target.kid) {
          result.offTarget++;
          if (found.key.kid !== firstSourceKid) {
            result.offOlder++;
            note(result.offOlderIds, row.id);
          }
        } else if (
          found.kind === 'key' &&
          (found.opened !== undefined || opens(codec, text, target, where))
        ) {
          result.underTarget++;
        } else {
          result.undecryptable++;
          note(result.undecryptableIds, row.id);
        }
      });
      deps.progress?.({
        table: table.name,
        column,
        done: progress.done + rows.length,
        total: progress.total,
      });
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
  reachable: readonly string[],
  deps: ScanDeps & { readonly db: SqlRunner },
): Promise<void> {
  const [first, ...rest] = reachable;
  if (first === undefined) return;
  const stranded: string[] = [];
  for (const table of await openTables(deps)) {
    const { codec, target, sources } = tableKeys(deps.config, table.table, { target: first, sources: rest });
    const prefixLength = codec.sqlPrefix(target)?.length;
    if (!codec.formatPrefix || !prefixLength) continue;
    const known = new Set([target, ...sources].map((k) => codec.sqlPrefix(k)));
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
    offOlder: 0,
    plaintext: 0,
    undecryptable: 0,
    offOlderIds: [],
    plaintextIds: [],
    undecryptableIds: [],
  };
}
