import { dataKeyFromSecretString } from './codecs/index.js';
import { type RekeyConfig, tableCodec } from './config.js';
import { dialectOf } from './dialects.js';
import {
  ConfigError,
  FleetLagError,
  type LaggingReader,
  SecretFormatError,
  UnexpectedAnswerError,
} from './errors.js';
import { HEARTBEAT_COLUMNS } from './heartbeat.js';
import type { Clock, Log, SqlRunner, SqlValue } from './ports.js';

/**
 * The rotation side of the fleet gate (docs/apps.md, "Fleet gating (key-ring apps)"). Readers that opt
 * in write a heartbeat row (lambda/heartbeat.ts) with the key ids they hold and encrypt with; the
 * rotation reads the table through the SQL runner it already has (one SELECT per poll, nothing
 * written) and waits, bounded, before the two acts that depend on the fleet:
 * - promotion (finishSecret): every live reader holds the pending version's keys (Tink's "add,
 *   distribute, promote"), and none encrypts with a key older than AWSCURRENT's, which the move unstages;
 * - a new rotation (createSecret): every live reader encrypts with AWSCURRENT's keys, so no reader still
 *   writes under the key that the coming promotion unstages.
 * Liveness is judged in the database's time on both sides, so the clocks of app hosts never matter.
 */

/** What a step waits for. Values are whole SecretStrings (secret: only their key ids leave this module). */
export type FleetWant =
  | {
      readonly act: 'promote';
      readonly pending: string;
      readonly current: string | undefined;
      readonly previous: string | undefined;
    }
  | { readonly act: 'start'; readonly current: string };

/** One heartbeat row as the rotation reads it. */
export interface ReaderBeat {
  readonly instanceId: string;
  readonly keyIds: readonly string[];
  readonly encryptKeyIds: readonly string[];
  /** Epoch ms of its last heartbeat, database time. */
  readonly seenAt: number;
}

/** The heartbeat table at one instant of the database's clock. */
export interface FleetSnapshot {
  /** The database's CURRENT_TIMESTAMP, epoch ms. */
  readonly now: number;
  readonly readers: readonly ReaderBeat[];
}

/** Key ids of one data key field (per codec) under the versions that matter to the wait. */
interface FieldIds {
  readonly pending?: string;
  readonly current?: string;
  readonly previous?: string;
}

/** What the gate needs of a step's collaborators. */
export interface FleetGateDeps {
  readonly db: SqlRunner;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RekeyConfig;
  /** Epoch ms by which the step must have returned. */
  readonly deadline: number;
}

/**
 * Waits until every live reader satisfies `want`, polling every `fleet.pollMs`, for at most
 * `fleet.waitMs` and never past the deadline less `safetyMarginMs`. Returns at once, with no statement
 * sent, when the config has no `fleet` section.
 * @throws FleetLagError naming the readers that still lag when the wait runs out; ConfigError when the
 * heartbeat table does not exist; UnexpectedAnswerError when the table's read comes back without rows.
 */
export async function waitForFleet(
  deps: FleetGateDeps,
  want: FleetWant,
  logFields: Record<string, unknown> = {},
): Promise<void> {
  const fleet = deps.config.fleet;
  if (!fleet) return;
  const fields = fieldIds(deps.config, want);
  const started = deps.clock.now();
  const until = Math.min(started + fleet.waitMs, deps.deadline - deps.config.safetyMarginMs);
  await requireTable(deps.db, fleet.table);
  for (let polls = 1; ; polls++) {
    const snapshot = await readFleet(deps.db, fleet.table);
    const live = snapshot.readers.filter((r) => snapshot.now - r.seenAt <= fleet.liveWithinMs);
    const lagging = live.filter((r) => lags(r, want.act, fields));
    if (lagging.length === 0) {
      deps.log.info(`fleet: every live reader ${waitedFor(want.act)}`, {
        ...logFields,
        readers: live.length,
        polls,
        durationMs: deps.clock.now() - started,
      });
      return;
    }
    if (deps.clock.now() + fleet.pollMs > until) {
      throw new FleetLagError(waitedFor(want.act), lagging.map(describeReader), deps.clock.now() - started);
    }
    if (polls === 1) {
      deps.log.info(`fleet: waiting until every live reader ${waitedFor(want.act)}`, {
        ...logFields,
        readers: live.length,
        lagging: lagging.map((r) => r.instanceId),
      });
    }
    await deps.clock.sleep(fleet.pollMs);
  }
}

/**
 * Whether a live reader stops the act. Promotion wants, for every field the reader follows (it reports a
 * key id of that field under one of the staged versions), the pending key held and no encryption with
 * the previous version's key; a reader that reports no staged key id at all follows nothing rekey can
 * see, and fails closed. A new rotation wants every key it encrypts with to be AWSCURRENT's.
 */
function lags(reader: ReaderBeat, act: FleetWant['act'], fields: readonly FieldIds[]): boolean {
  const held = new Set(reader.keyIds);
  const reported = new Set([...reader.keyIds, ...reader.encryptKeyIds]);
  if (act === 'start') {
    const current = new Set(fields.map((f) => f.current));
    return reader.encryptKeyIds.length === 0 || reader.encryptKeyIds.some((kid) => !current.has(kid));
  }
  const followed = fields.filter((f) => [f.pending, f.current, f.previous].some((k) => k && reported.has(k)));
  if (followed.length === 0) return true;
  const unstaged = new Set(
    fields.flatMap((f) =>
      f.previous && f.previous !== f.current && f.previous !== f.pending ? [f.previous] : [],
    ),
  );
  return (
    followed.some((f) => f.pending === undefined || !held.has(f.pending)) ||
    reader.encryptKeyIds.some((kid) => unstaged.has(kid))
  );
}

function waitedFor(act: FleetWant['act']): string {
  return act === 'promote'
    ? "holds the pending version's keys and none encrypts with the key the promotion unstages"
    : "encrypts with AWSCURRENT's keys";
}

/** The key ids per data key field (and codec) of the stored tables, under each version of `want`. */
function fieldIds(config: RekeyConfig, want: FleetWant): FieldIds[] {
  const byField = new Map<string, FieldIds>();
  for (const table of config.storedFields) {
    const { codec, dataKeyField } = tableCodec(config, table);
    const kid = (value: string | undefined) => {
      if (value === undefined) return undefined;
      try {
        return dataKeyFromSecretString(value, dataKeyField, codec).kid;
      } catch (error) {
        // A version whose field is unusable holds no key that any reader could hold for it.
        if (error instanceof SecretFormatError) return undefined;
        throw error;
      }
    };
    byField.set(
      `${codec}/${dataKeyField}`,
      want.act === 'promote'
        ? { pending: kid(want.pending), current: kid(want.current), previous: kid(want.previous) }
        : { current: kid(want.current) },
    );
  }
  return [...byField.values()];
}

/**
 * Fails closed on a missing heartbeat table: with `fleet` configured, no table would read as "no live
 * readers" and let every promotion through.
 * @throws ConfigError saying to create it; UnexpectedAnswerError when the catalog answers without its row.
 */
async function requireTable(db: SqlRunner, table: string): Promise<void> {
  const sql =
    db.dialect === 'postgres'
      ? 'SELECT CASE WHEN to_regclass(quote_ident(:table)) IS NULL THEN 0 ELSE 1 END'
      : 'SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = :table';
  const result = await db.execute(sql, { table }, { expectRows: true });
  const found = result.rows[0]?.[0];
  if (found === undefined)
    throw new UnexpectedAnswerError('the heartbeat table in the catalog (one row)', 'no rows');
  if (Number(found) === 0) {
    throw new ConfigError(
      `fleet.table: the heartbeat table '${table}' does not exist in the database; create it (its schema is in ` +
        'docs/apps.md, "Fleet gating (key-ring apps)") or remove the fleet section to turn the gate off',
    );
  }
}

/**
 * The heartbeat table and the database's time in one statement: the clock comes from a one-row derived
 * table joined to the rows, so every answer has at least that row and an answer with none is never
 * taken for an empty fleet.
 * @throws UnexpectedAnswerError when the answer has no rows or a row without the database's time.
 */
export async function readFleet(db: SqlRunner, table: string): Promise<FleetSnapshot> {
  const dialect = dialectOf(db.dialect);
  const q = (name: string) => dialect.quote(name);
  const c = HEARTBEAT_COLUMNS;
  const [clock, epochMs] =
    db.dialect === 'postgres'
      ? ['CURRENT_TIMESTAMP', (t: string) => `CAST(EXTRACT(EPOCH FROM ${t}) * 1000 AS bigint)`]
      : ['CURRENT_TIMESTAMP(3)', (t: string) => `CAST(UNIX_TIMESTAMP(${t}) * 1000 AS SIGNED)`];
  const sql =
    `SELECT ${epochMs('n.db_now')}, r.${q(c.instanceId)}, r.${q(c.keyIds)}, r.${q(c.encryptKeyIds)}, ` +
    `${epochMs(`r.${q(c.seenAt)}`)} FROM (SELECT ${clock} AS db_now) n LEFT JOIN ${q(table)} r ON 1 = 1`;
  const result = await db.execute(sql, {}, { expectRows: true });
  const first = result.rows[0];
  if (first === undefined) {
    throw new UnexpectedAnswerError(
      `the heartbeat table '${table}' joined to the database's time (at least one row)`,
      'no rows',
    );
  }
  const now = epoch(first[0] ?? null);
  if (now === undefined)
    throw new UnexpectedAnswerError("the database's time in the first column", 'a row without it');
  const readers: ReaderBeat[] = [];
  for (const [, id, keyIds, encryptKeyIds, seenAt] of result.rows) {
    if (id === null || id === undefined) continue; // the join's one row when the table is empty
    readers.push({
      instanceId: String(id),
      keyIds: splitIds(keyIds ?? null),
      encryptKeyIds: splitIds(encryptKeyIds ?? null),
      // A row without a time (a NULL a hand-made table allows) counts as just seen: it fails closed.
      seenAt: epoch(seenAt ?? null) ?? now,
    });
  }
  return { now, readers };
}

function describeReader(r: ReaderBeat): LaggingReader {
  return {
    instanceId: r.instanceId,
    keyIds: r.keyIds,
    encryptKeyIds: r.encryptKeyIds,
    lastHeartbeat: new Date(r.seenAt).toISOString(),
  };
}

function epoch(v: SqlValue): number | undefined {
  if (v === null || v instanceof Uint8Array || typeof v === 'boolean') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function splitIds(v: SqlValue): string[] {
  if (v === null || v instanceof Uint8Array) return [];
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
