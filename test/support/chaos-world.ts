import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { parseConfig, type RekeyConfig, type RekeyConfigInput, tableCodec } from '../../lambda/config.js';
import type { SqlRunner, SqlValue } from '../../lambda/ports.js';
import type { RandomBytes } from '../../lambda/secret-template.js';
import { generateSecretValue } from '../../lambda/secret-template.js';
import { PLAINTEXT_MARKER } from './chaos-hygiene.js';

/** The chaos suite's secret template: an rk1 data key, a raw Fernet key and a Redash-style token. */
export const CHAOS_TEMPLATE = {
  encryptionKey: { kind: 'aes-256' as const },
  fernetKey: { kind: 'fernet' as const },
  appSecretKey: {
    kind: 'token' as const,
    length: 40,
    alphabet: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  },
};

/** A Data API target that passes config validation (the direct runners ignore it). */
export const CHAOS_DATA_API = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:chaos',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:chaos-db-AbCdEf',
  database: 'test',
  engine: 'postgres' as const,
};

/** Deterministic random bytes (so a matrix of rotations generates one pending value, not hundreds). */
export function seededRandom(seed: string): RandomBytes {
  let counter = 0;
  return (size) => {
    const out = Buffer.alloc(size);
    for (let at = 0; at < size; at += 32) {
      createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, at);
    }
    return out;
  };
}

/** A secret value of the chaos template, from a seed. */
export function chaosSecret(seed: string): string {
  return generateSecretValue(CHAOS_TEMPLATE, {}, seededRandom(seed));
}

/** The chaos tables, by name without the prefix. */
export type ChaosTable = 'sources' | 'tokens' | 'alerts' | 'fernet' | 'redash' | 'empty';

/** One seeded table. */
interface TableSpec {
  readonly name: string;
  readonly id: string;
  readonly columns: readonly string[];
  readonly codec: 'rk1' | 'fernet' | 'fernet-sha256';
  readonly dataKeyField: string;
  readonly binary: boolean;
  readonly idOf: (i: number) => SqlValue;
  readonly rows: number;
}

/**
 * A set of tables covering what rotation meets in the field, named `<prefix>...` so suites never
 * collide: bigint ids with large gaps and NULLs (rk1, two columns), text ids (rk1), uuid ids (rk1), a
 * raw-key Fernet text column, a Redash-style Fernet BYTEA/BLOB column, and an empty table. It knows
 * the plaintext of every stored field, so a check can say that nothing was lost or changed.
 */
export class ChaosWorld {
  readonly config: RekeyConfig;
  readonly tables: readonly TableSpec[];
  /** `table/column/id` → plaintext, or null for a NULL field. */
  readonly expected = new Map<string, string | null>();
  private seedRows: Map<string, SqlValue[][]> | undefined;

  constructor(
    readonly db: SqlRunner,
    readonly prefix: string,
    options: {
      rows?: number;
      maxRows?: number;
      /** Which tables (by name without the prefix). @default all */
      only?: readonly ChaosTable[];
      config?: Partial<RekeyConfigInput>;
    } = {},
  ) {
    const rows = options.rows ?? 7;
    const pg = db.dialect === 'postgres';
    const all: TableSpec[] = [
      {
        name: `${prefix}sources`,
        id: 'id',
        columns: ['options', 'extra'],
        codec: 'rk1',
        dataKeyField: 'encryptionKey',
        binary: false,
        idOf: (i) => i * 1_000_003 + (i % 3) * 7_777_777_777,
        rows,
      },
      {
        name: `${prefix}tokens`,
        id: 'token_id',
        columns: ['value'],
        codec: 'rk1',
        dataKeyField: 'encryptionKey',
        binary: false,
        idOf: (i) => `tok-${String(i * 97).padStart(6, '0')}`,
        rows,
      },
      {
        name: `${prefix}alerts`,
        id: 'uid',
        columns: ['destination'],
        codec: 'rk1',
        dataKeyField: 'encryptionKey',
        binary: false,
        idOf: (i) => `${String(i).padStart(8, '0')}-0000-4000-8000-${String(i * 31).padStart(12, '0')}`,
        rows,
      },
      {
        name: `${prefix}fernet`,
        id: 'id',
        columns: ['options'],
        codec: 'fernet',
        dataKeyField: 'fernetKey',
        binary: false,
        idOf: (i) => i * 50,
        rows,
      },
      {
        name: `${prefix}redash`,
        id: 'id',
        columns: ['encrypted_options'],
        codec: 'fernet-sha256',
        dataKeyField: 'appSecretKey',
        binary: true,
        idOf: (i) => i,
        rows,
      },
      {
        name: `${prefix}empty`,
        id: 'id',
        columns: ['v'],
        codec: 'rk1',
        dataKeyField: 'encryptionKey',
        binary: false,
        idOf: (i) => i,
        rows: 0,
      },
    ];
    this.tables = all.filter((t) => !options.only || options.only.some((o) => t.name === `${prefix}${o}`));
    this.config = parseConfig({
      secretTemplate: CHAOS_TEMPLATE,
      dataKeyField: 'encryptionKey',
      codec: 'rk1',
      // Several streams, though the endpoints answer at once: the suite must hold with concurrency on.
      paging: { maxRows: options.maxRows ?? 3, maxBytes: 512 * 1024, streams: 3 },
      storedFields: this.tables.map((t) => ({
        table: t.name,
        id: t.id,
        columns: [...t.columns],
        ...(t.codec === 'rk1' ? {} : { codec: t.codec, dataKeyField: t.dataKeyField }),
      })),
      dataApi: { ...CHAOS_DATA_API, engine: pg ? 'postgres' : 'mysql' },
      ...options.config,
    });
  }

  /** Creates the tables (dropping leftovers of an earlier run). */
  async create(): Promise<void> {
    await this.drop();
    const pg = this.db.dialect === 'postgres';
    const blob = pg ? 'BYTEA' : 'LONGBLOB';
    for (const t of this.tables) {
      const idType =
        t.id === 'uid' ? uuidType(this.db.dialect) : t.id === 'token_id' ? 'VARCHAR(40)' : 'BIGINT';
      const cols = t.columns.map((c) => `${c} ${t.binary ? blob : 'TEXT'}`).join(', ');
      await this.db.execute(`CREATE TABLE ${t.name} (${t.id} ${idType} PRIMARY KEY, ${cols})`);
    }
  }

  /** Drops the tables. */
  async drop(): Promise<void> {
    for (const t of this.tables) await this.db.execute(`DROP TABLE IF EXISTS ${t.name}`);
  }

  /**
   * Empties the tables and fills them with the same rows (plaintexts) under `secret` every time:
   * NULL in every fourth `extra`, distinct plaintexts that carry the hygiene marker.
   */
  async seed(secret: string): Promise<void> {
    this.expected.clear();
    this.seedRows = this.encryptRows(secret);
    this.inserted.clear();
    for (const t of this.tables) {
      await this.db.execute(`DELETE FROM ${t.name}`);
      const rows = this.seedRows?.get(t.name) ?? [];
      if (rows.length === 0) continue;
      const params: Record<string, SqlValue> = {};
      const tuples = rows.map((row, r) => {
        row.forEach((v, c) => {
          params[`v${r}_${c}`] = v;
        });
        return `(${row.map((_, c) => this.placeholder(t, c, `v${r}_${c}`)).join(', ')})`;
      });
      await this.db.execute(
        `INSERT INTO ${t.name} (${[t.id, ...t.columns].join(', ')}) VALUES ${tuples.join(', ')}`,
        params,
      );
    }
  }

  /**
   * Records an app's write (its own log of the last plaintext per id), so {@link assertIntact}
   * expects it; `inserted` counts a new row.
   */
  noteWrite(table: string, column: string, id: SqlValue, plaintext: string, inserted: boolean): void {
    this.expected.set(`${table}/${column}/${normalizeId(id)}`, plaintext);
    if (!inserted) return;
    this.inserted.set(table, (this.inserted.get(table) ?? 0) + 1);
    // The insert left the table's other columns NULL.
    for (const other of this.tables.find((t) => t.name === table)?.columns ?? []) {
      if (other !== column) this.expected.set(`${table}/${other}/${normalizeId(id)}`, null);
    }
  }

  /** Forgets the app's inserted rows (before a new seed). */
  private readonly inserted = new Map<string, number>();

  /**
   * Asserts that every stored field decrypts under one of `secrets` (SecretStrings) to the plaintext it
   * was seeded with, that NULLs stayed NULL and that no row appeared or vanished.
   * @returns how many non-NULL fields were checked.
   */
  async assertIntact(secrets: readonly string[], label: string): Promise<number> {
    let checked = 0;
    for (const t of this.tables) {
      const { codec: codecName, dataKeyField } = tableCodec(this.config, {
        table: t.name,
        id: t.id,
        columns: [...t.columns],
        ...(t.codec === 'rk1' ? {} : { codec: t.codec, dataKeyField: t.dataKeyField }),
      });
      const codec = codecFor(codecName);
      const keys = secrets.map((s) => dataKeyFromSecretString(s, dataKeyField, codecName));
      const r = await this.db.execute(`SELECT ${[t.id, ...t.columns].join(', ')} FROM ${t.name}`);
      const rows = t.rows + (this.inserted.get(t.name) ?? 0);
      assert.equal(r.rows.length, rows, `${label}: ${t.name} has ${rows} rows`);
      for (const row of r.rows) {
        const id = normalizeId(row[0] ?? null);
        t.columns.forEach((column, c) => {
          const value = row[c + 1] ?? null;
          const want = this.expected.get(`${t.name}/${column}/${id}`);
          assert.notEqual(want, undefined, `${label}: ${t.name} row ${id} is one that was seeded`);
          if (want === null) {
            assert.equal(value, null, `${label}: ${t.name}.${column} row ${id} stays NULL`);
            return;
          }
          assert.notEqual(value, null, `${label}: ${t.name}.${column} row ${id} is not lost`);
          const text = asText(value);
          const where = { table: t.name, column };
          const found = codec.classify(text, keys, where);
          assert.equal(
            found.kind,
            'key',
            `${label}: ${t.name}.${column} row ${id} decrypts under a staged version`,
          );
          if (found.kind !== 'key') return;
          const plain = Buffer.from(codec.decrypt(text, found.key, where)).toString('utf8');
          assert.ok(plain === want, `${label}: ${t.name}.${column} row ${id} keeps its plaintext`);
          checked++;
        });
      }
    }
    return checked;
  }

  private encryptRows(secret: string): Map<string, SqlValue[][]> {
    const out = new Map<string, SqlValue[][]>();
    for (const t of this.tables) {
      const codec = codecFor(t.codec);
      const key = dataKeyFromSecretString(secret, t.dataKeyField, t.codec);
      const rows: SqlValue[][] = [];
      for (let i = 1; i <= t.rows; i++) {
        const id = t.idOf(i);
        const row: SqlValue[] = [id];
        for (const column of t.columns) {
          const isNull = column === 'extra' && i % 4 === 0;
          const plain = isNull ? null : `${PLAINTEXT_MARKER}${t.name}.${column}.${i} ☕ ${'x'.repeat(i * 3)}`;
          this.expected.set(`${t.name}/${column}/${normalizeId(id)}`, plain);
          if (plain === null) {
            row.push(null);
            continue;
          }
          const token = codec.encrypt(Buffer.from(plain), key, { table: t.name, column });
          row.push(t.binary ? Buffer.from(token, 'latin1') : token);
        }
        rows.push(row);
      }
      out.set(t.name, rows);
    }
    return out;
  }

  private placeholder(t: TableSpec, c: number, name: string): string {
    if (this.db.dialect !== 'postgres') return `:${name}`;
    if (c === 0 && t.id === 'uid') return `CAST(:${name} AS uuid)`;
    if (c === 0 && t.id === 'id') return `CAST(:${name} AS bigint)`;
    return t.binary && c > 0 ? `CAST(:${name} AS bytea)` : `:${name}`;
  }
}

function uuidType(dialect: 'postgres' | 'mysql'): string {
  return dialect === 'postgres' ? 'UUID' : 'CHAR(36)';
}

/** An id as a map key: numbers and numeric strings alike. */
export function normalizeId(v: SqlValue): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v);
}

function asText(v: SqlValue): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v);
}
