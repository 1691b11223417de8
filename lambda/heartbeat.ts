import { type Engine, quoteIdentifier } from './dialects.js';
import { ConfigError } from './errors.js';

/**
 * The reader side of the fleet gate (lambda/fleet-gate.ts, docs/apps.md, "Fleet gating (key-ring
 * apps)"): every so often an app instance writes one row about itself into a heartbeat table, through
 * its own database connection. The row holds public key ids and the database's time, never a key or a
 * value. No database driver here: the app runs the statement with whatever driver it already has.
 */

/** The heartbeat table's name unless the config (`fleet.table`) says otherwise. */
export const DEFAULT_HEARTBEAT_TABLE = 'rekey_readers';

/** The heartbeat table's columns: one spelling for the readers that write it and the rotation that reads it. */
export const HEARTBEAT_COLUMNS = {
  instanceId: 'instance_id',
  keyIds: 'key_ids',
  encryptKeyIds: 'encrypt_key_ids',
  seenAt: 'seen_at',
} as const;

/** Instance ids are the table's primary key (VARCHAR(200)). */
const MAX_INSTANCE_ID = 200;

/** What a heartbeat reports of a key ring: a {@link KeyRing} has both. Public ids only. */
export interface HeldKeys {
  /** Every key id the ring holds. */
  readonly keyIds: readonly string[];
  /** The key id the ring encrypts with (AWSCURRENT's, as the ring last loaded it). */
  readonly currentKeyId: string;
}

/** Where and as whom a heartbeat is written. */
export interface HeartbeatTarget {
  readonly engine: Engine;
  /** Unique per running instance (a task id, a pod name, a hostname and pid). */
  readonly instanceId: string;
  /** Every key ring the instance uses: one per data key field of the secret it reads. */
  readonly rings: readonly HeldKeys[];
  /** @default 'rekey_readers' ({@link DEFAULT_HEARTBEAT_TABLE}), as `fleet.table` in the rotation's config. */
  readonly table?: string;
  /**
   * `positional`: `$1, $2, ...` for PostgreSQL drivers (pg, postgres.js, PGlite), `?` for MySQL drivers
   * (mysql2); `named`: `:name` parameters, as the RDS Data API takes them.
   * @default 'positional'
   */
  readonly placeholders?: 'positional' | 'named';
}

/** One upsert to run through the app's connection: `values` for positional placeholders, `params` for named ones. */
export interface HeartbeatStatement {
  readonly sql: string;
  readonly values: readonly string[];
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The upsert of this instance's heartbeat row: the key ids its rings hold and encrypt with, and the
 * database's CURRENT_TIMESTAMP (so the clocks of app hosts never matter).
 * @throws ConfigError for a table name that is not a plain identifier, or an empty or over-long instance id.
 * @example
 * const { sql, values } = heartbeatStatement({ engine: 'postgres', instanceId: process.env.HOSTNAME, rings: [ring] });
 * await pool.query(sql, values);
 */
export function heartbeatStatement(target: HeartbeatTarget): HeartbeatStatement {
  const { engine, instanceId } = target;
  if (instanceId.length === 0 || instanceId.length > MAX_INSTANCE_ID) {
    throw new ConfigError(
      `heartbeat instanceId must have 1 to ${MAX_INSTANCE_ID} characters, got ${instanceId.length}`,
    );
  }
  const table = quoteIdentifier(engine, target.table ?? DEFAULT_HEARTBEAT_TABLE);
  const q = (name: string) => quoteIdentifier(engine, name);
  const c = HEARTBEAT_COLUMNS;
  const params = {
    instance_id: instanceId,
    key_ids: joinIds(target.rings.flatMap((r) => r.keyIds)),
    encrypt_key_ids: joinIds(target.rings.map((r) => r.currentKeyId)),
  };
  const named = target.placeholders === 'named';
  const columns = `(${q(c.instanceId)}, ${q(c.keyIds)}, ${q(c.encryptKeyIds)}, ${q(c.seenAt)})`;
  if (engine === 'postgres') {
    const [i, k, e] = named ? [':instance_id', ':key_ids', ':encrypt_key_ids'] : ['$1', '$2', '$3'];
    return {
      sql:
        `INSERT INTO ${table} ${columns} VALUES (${i}, ${k}, ${e}, CURRENT_TIMESTAMP) ` +
        `ON CONFLICT (${q(c.instanceId)}) DO UPDATE SET ${q(c.keyIds)} = EXCLUDED.${q(c.keyIds)}, ` +
        `${q(c.encryptKeyIds)} = EXCLUDED.${q(c.encryptKeyIds)}, ${q(c.seenAt)} = EXCLUDED.${q(c.seenAt)}`,
      values: [params.instance_id, params.key_ids, params.encrypt_key_ids],
      params,
    };
  }
  // MySQL and MariaDB: the update repeats the values rather than use VALUES(), deprecated in MySQL 8.
  const [i, k, e, k2, e2] = named
    ? [':instance_id', ':key_ids', ':encrypt_key_ids', ':key_ids', ':encrypt_key_ids']
    : ['?', '?', '?', '?', '?'];
  return {
    sql:
      `INSERT INTO ${table} ${columns} VALUES (${i}, ${k}, ${e}, CURRENT_TIMESTAMP(3)) ` +
      `ON DUPLICATE KEY UPDATE ${q(c.keyIds)} = ${k2}, ${q(c.encryptKeyIds)} = ${e2}, ${q(c.seenAt)} = CURRENT_TIMESTAMP(3)`,
    values: [
      params.instance_id,
      params.key_ids,
      params.encrypt_key_ids,
      params.key_ids,
      params.encrypt_key_ids,
    ],
    params,
  };
}

/**
 * The heartbeat table's CREATE TABLE, as docs/apps.md gives it. MySQL's `TIMESTAMP` (not `DATETIME`)
 * keeps the time zone-free instant, so sessions in different time zones agree on a heartbeat's age.
 * @throws ConfigError for a table name that is not a plain identifier.
 */
export function heartbeatTableSchema(engine: Engine, table = DEFAULT_HEARTBEAT_TABLE): string {
  const q = (name: string) => quoteIdentifier(engine, name);
  const c = HEARTBEAT_COLUMNS;
  const [text, time] = engine === 'postgres' ? ['text', 'timestamptz'] : ['TEXT', 'TIMESTAMP(3)'];
  return (
    `CREATE TABLE ${q(table)} (${q(c.instanceId)} VARCHAR(${MAX_INSTANCE_ID}) PRIMARY KEY, ` +
    `${q(c.keyIds)} ${text} NOT NULL, ${q(c.encryptKeyIds)} ${text} NOT NULL, ${q(c.seenAt)} ${time} NOT NULL)`
  );
}

/** A running heartbeat: {@link startHeartbeat}. */
export interface Heartbeat {
  /** Writes the row now (also after the instance reloaded its rings, to report the new keys at once). */
  beat(): Promise<void>;
  /** Stops the timer; the row stays and ages out after the rotation's `fleet.liveWithinMs`. */
  stop(): void;
}

/** Options of {@link startHeartbeat}. */
export interface HeartbeatOptions extends HeartbeatTarget {
  /** Runs one statement through the app's own connection. */
  readonly run: (statement: HeartbeatStatement) => Promise<unknown>;
  /**
   * Time between two heartbeats; keep it well under the rotation's `fleet.liveWithinMs` (a quarter).
   * @default 30000
   */
  readonly intervalMs?: number;
  /** Told of a heartbeat that failed (the next one tries again). @default ignore */
  readonly onError?: (error: unknown) => void;
}

/**
 * Writes the heartbeat once now and then every `intervalMs` on a timer that does not keep the process
 * alive. Reads the rings' key ids at each beat, so a reload shows at the next one.
 * @throws ConfigError as {@link heartbeatStatement}, at once.
 * @example
 * const heartbeat = startHeartbeat({
 *   engine: 'postgres',
 *   instanceId: `${os.hostname()}-${process.pid}`,
 *   rings: [ring],
 *   run: ({ sql, values }) => pool.query(sql, [...values]),
 * });
 * process.on('SIGTERM', () => heartbeat.stop());
 */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  heartbeatStatement(options);
  const onError = options.onError ?? (() => undefined);
  const beat = async () => {
    await options.run(heartbeatStatement(options));
  };
  const tick = () => {
    beat().catch(onError);
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 30_000);
  timer.unref();
  return { beat, stop: () => clearInterval(timer) };
}

/** Key ids without repeats, comma-separated (ids are base64url: never a comma). */
function joinIds(ids: readonly string[]): string {
  return [...new Set(ids)].join(',');
}
