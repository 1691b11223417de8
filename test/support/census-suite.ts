import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { type CodecName, parseConfig, type RekeyConfig, type RekeyConfigInput } from '../../lambda/config.js';
import { dataApiRunner } from '../../lambda/data-api.js';
import { memoryLog } from '../../lambda/log.js';
import {
  checkUnlistedCiphertext,
  type DatabaseCensus,
  type DatabaseCensusOptions,
  type FoundCiphertext,
  takeDatabaseCensus,
  UnlistedCiphertextError,
} from '../../lambda/passes/db-census.js';
import { planRotation } from '../../lambda/plan.js';
import type { SqlRunner, SqlValue } from '../../lambda/ports.js';
import type { RotationStep } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import {
  createMysqlEngine,
  createPostgresEngine,
  LOCAL_CLUSTER_ARN,
  LOCAL_DB_SECRET_ARN,
  startDataApi,
} from '../../local/index.js';
import { fakeClock } from './fake-clock.js';
import { PLAINTEXTS, RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C, SECRET_ARN } from './fixtures.js';
import { localDataClient } from './local-clients.js';
import { MemorySecrets } from './memory-secrets.js';
import { recordingRunner } from './recording-runner.js';

/** A database the census suite runs against. */
export interface CensusTarget {
  readonly label: string;
  readonly dialect: 'postgres' | 'mysql';
  /** A fresh database with nothing in it, behind a SqlRunner; `close` drops it. */
  open(): Promise<{ readonly db: SqlRunner; close(): Promise<void> }>;
}

/** The staged values of every test: A is AWSCURRENT, B AWSPREVIOUS (C is staged nowhere). */
export const CENSUS_STAGED = [
  { label: 'current' as const, versionId: 'version-a', secretString: RK1_SECRET_A },
  { label: 'previous' as const, versionId: 'version-b', secretString: RK1_SECRET_B },
];

const TOKEN = '11111111-2222-4333-8444-555555555555';
const DATA_API = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
  database: 'test',
};

/** The census' catalog statement, to tell its calls from the passes' when counting (either dialect). */
export const CENSUS_CATALOG =
  /pg_catalog\.pg_namespace n ON n\.nspname = c\.table_schema|JOIN information_schema\.TABLES t/;

/** Two configured tables: rk1 text, and Fernet (sha256 of cookieSecret) in a binary column. */
export function censusConfig(
  dialect: 'postgres' | 'mysql',
  overrides: Partial<RekeyConfigInput> = {},
): RekeyConfig {
  return parseConfig({
    secretId: SECRET_ARN,
    secretTemplate: { encryptionKey: { kind: 'aes-256' }, cookieSecret: { kind: 'token', length: 64 } },
    dataKeyField: 'encryptionKey',
    codec: 'rk1',
    storedFields: [
      { table: 'accounts', id: 'id', columns: ['secret'] },
      {
        table: 'sources',
        id: 'id',
        columns: ['options'],
        codec: 'fernet-sha256',
        dataKeyField: 'cookieSecret',
      },
    ],
    dataApi: { ...DATA_API, engine: dialect },
    ...overrides,
  });
}

/** A value in `codec` under the key `field` of `secret` holds, as stored in `table.column`. */
export function encrypted(
  codec: CodecName,
  field: string,
  secret: string,
  table: string,
  column: string,
  i = 0,
): string {
  const key = dataKeyFromSecretString(secret, field, codec);
  return codecFor(codec).encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
    table,
    column,
  });
}

/** Inserts rows in batches of 100 (one statement each). */
export async function insertRows(
  db: SqlRunner,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): Promise<void> {
  for (let start = 0; start < rows.length; start += 100) {
    const params: Record<string, SqlValue> = {};
    const tuples = rows.slice(start, start + 100).map((row, r) => {
      const names = row.map((value, c) => {
        params[`v${r}_${c}`] = value;
        return `:v${r}_${c}`;
      });
      return `(${names.join(', ')})`;
    });
    await db.execute(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
}

/**
 * The configured tables: `rows` accounts (rk1; every fourth under B, the rest under A; a NULL every
 * tenth) and `rows / 2` sources (Fernet in a binary column; every third under B), with a plaintext
 * `name` column each.
 */
export async function seedConfigured(db: SqlRunner, rows: number): Promise<void> {
  const blob = db.dialect === 'mysql' ? 'LONGBLOB' : 'BYTEA';
  await db.execute('CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(100), secret TEXT)');
  await db.execute(`CREATE TABLE sources (id BIGINT PRIMARY KEY, name VARCHAR(100), options ${blob})`);
  const secretOf = (i: number) => (i % 4 === 0 ? RK1_SECRET_B : RK1_SECRET_A);
  await insertRows(
    db,
    'accounts',
    ['id', 'name', 'secret'],
    Array.from({ length: rows }, (_, n) => {
      const i = n + 1;
      return [
        i * 7,
        `account ${i}`,
        i % 10 === 0 ? null : encrypted('rk1', 'encryptionKey', secretOf(i), 'accounts', 'secret', i),
      ];
    }),
  );
  await insertRows(
    db,
    'sources',
    ['id', 'name', 'options'],
    Array.from({ length: Math.floor(rows / 2) }, (_, n) => {
      const i = n + 1;
      const token = encrypted(
        'fernet-sha256',
        'cookieSecret',
        i % 3 === 0 ? RK1_SECRET_B : RK1_SECRET_A,
        'sources',
        'options',
        i,
      );
      return [i, `source ${i}`, Buffer.from(token, 'latin1')];
    }),
  );
}

/** Where the planted values are: `schema.table`, or `table` alone on MySQL. */
function places(dialect: 'postgres' | 'mysql') {
  const pg = dialect === 'postgres';
  return {
    events: pg ? 'audit.events' : 'events',
    cache: pg ? 'app2.cache' : 'cache',
    eventsSchema: pg ? 'audit' : undefined,
    cacheSchema: pg ? 'app2' : undefined,
  };
}

/**
 * Ciphertext the config does not list, in a binary, a varchar and a text column (in two more schemas on
 * PostgreSQL): audit.events.payload 30 Fernet (sha256 of cookieSecret) under A; audit.events.note 12
 * rk1 under A and 3 under C (staged nowhere); app2.cache.v 7 rk1 under B; app2.cache.token 5 Fernet
 * (sha256 of encryptionKey) under A; and a varchar(20) too short for any ciphertext.
 */
export async function plantUnlisted(db: SqlRunner): Promise<void> {
  const p = places(db.dialect);
  const blob = db.dialect === 'mysql' ? 'LONGBLOB' : 'BYTEA';
  if (p.eventsSchema) await db.execute(`CREATE SCHEMA ${p.eventsSchema}`);
  if (p.cacheSchema) await db.execute(`CREATE SCHEMA ${p.cacheSchema}`);
  await db.execute(
    `CREATE TABLE ${p.events} (id BIGINT PRIMARY KEY, payload ${blob}, note VARCHAR(500), short VARCHAR(20))`,
  );
  await db.execute(`CREATE TABLE ${p.cache} (k VARCHAR(64) PRIMARY KEY, v TEXT, token VARCHAR(300))`);
  await insertRows(
    db,
    p.events,
    ['id', 'payload', 'note', 'short'],
    Array.from({ length: 30 }, (_, i) => [
      i + 1,
      Buffer.from(encrypted('fernet-sha256', 'cookieSecret', RK1_SECRET_A, 'events', 'payload', i), 'latin1'),
      i < 12
        ? encrypted('rk1', 'encryptionKey', RK1_SECRET_A, 'events', 'note', i)
        : i < 15
          ? encrypted('rk1', 'encryptionKey', RK1_SECRET_C, 'events', 'note', i)
          : `note ${i}`,
      'short text',
    ]),
  );
  await insertRows(
    db,
    p.cache,
    ['k', 'v', 'token'],
    Array.from({ length: 9 }, (_, i) => [
      `key-${i}`,
      i < 7 ? encrypted('rk1', 'encryptionKey', RK1_SECRET_B, 'cache', 'v', i) : 'plain',
      i < 5 ? encrypted('fernet-sha256', 'encryptionKey', RK1_SECRET_A, 'cache', 'token', i) : null,
    ]),
  );
}

/**
 * The census of `db`, one statement at a time, with a deadline that passes once a statement `when`
 * picks has been answered (the clock moves a minute on after each). Returns the census and every
 * statement it sent.
 */
export async function censusPastDeadline(
  db: SqlRunner,
  when: (sql: string) => boolean,
  options: DatabaseCensusOptions,
): Promise<{ census: DatabaseCensus; sent: string[] }> {
  const clock = fakeClock();
  const recorded = recordingRunner(db);
  const late: SqlRunner = {
    ...recorded,
    execute: async (sql, params, execOptions) => {
      const result = await recorded.execute(sql, params, execOptions);
      if (when(sql)) clock.advance(60_000);
      return result;
    },
  };
  const config = censusConfig(db.dialect, { pacing: { maxConcurrentStatements: 1 } });
  const census = await takeDatabaseCensus(
    CENSUS_STAGED,
    {
      db: late,
      clock,
      log: memoryLog(),
      config,
      deadline: clock.now() + 30_000 + config.safetyMarginMs,
    },
    options,
  );
  return { census, sent: recorded.sent };
}

/** Findings as short strings, sorted: `schema.table.column format label rows exact|sampled`. */
export function summarize(found: readonly FoundCiphertext[]): string[] {
  return found
    .map(
      (f) =>
        `${f.table}.${f.column} ${f.format} ${f.label} ${f.rows} ${f.exact ? 'exact' : `of ${f.sampled}/${f.candidates}`}`,
    )
    .sort();
}

/** Every stored value of every table, in a stable order, for "nothing changed" checks. */
export async function snapshotAll(db: SqlRunner, tables: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of tables) {
    const result = await db.execute(`SELECT * FROM ${t}`, {}, { expectRows: true });
    for (const row of result.rows)
      out.push(
        `${t}: ${row.map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v))).join('|')}`,
      );
  }
  return out.sort();
}

/** A runner that counts statements per phase and keeps them, so tests compare them with predictions. */
export function countedRunner(db: SqlRunner) {
  const counts: Record<string, number> = {};
  const statements: { phase: string; sql: string }[] = [];
  let phase = 'setup';
  const runner: SqlRunner = {
    dialect: db.dialect,
    execute: (sql, params, options) => {
      counts[phase] = (counts[phase] ?? 0) + 1;
      statements.push({ phase, sql });
      return db.execute(sql, params, options);
    },
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  };
  return {
    runner,
    counts,
    statements,
    setPhase(name: string) {
      phase = name;
    },
  };
}

/**
 * A real server as a census target: each `open` creates a database of its own (the census reads every
 * table it can see, so other suites' tables on a shared server must not be in it), serves it through the
 * local Data API and the real SDK client, and `close` drops it.
 */
export function serverCensusTarget(label: string, dialect: 'postgres' | 'mysql', url: string): CensusTarget {
  let n = 0;
  return {
    label,
    dialect,
    async open() {
      const name = `rekey_census_${process.pid}_${Date.now() % 100_000}_${n++}`;
      const admin =
        dialect === 'postgres' ? await createPostgresEngine({ url }) : await createMysqlEngine({ url });
      await admin.query(`CREATE DATABASE ${name}`, []);
      const dbUrl = new URL(url);
      dbUrl.pathname = `/${name}`;
      const api = await startDataApi({
        engine: dialect === 'postgres' ? { postgresUrl: dbUrl.href } : { mysqlUrl: dbUrl.href },
      });
      const client = localDataClient(api.url);
      const db = dataApiRunner(client, {
        resourceArn: LOCAL_CLUSTER_ARN,
        secretArn: LOCAL_DB_SECRET_ARN,
        database: name,
        engine: dialect,
      });
      return {
        db,
        async close() {
          client.destroy();
          await api.close();
          await admin.query(`DROP DATABASE ${name}${dialect === 'postgres' ? ' WITH (FORCE)' : ''}`, []);
          await admin.close();
        },
      };
    },
  };
}

/** The census and plan tests, on one engine. */
export function censusSuite(target: CensusTarget): void {
  const p = places(target.dialect);
  const deps = (db: SqlRunner, config: RekeyConfig) => ({
    db,
    clock: fakeClock(),
    log: memoryLog(),
    config,
    deadline: Number.POSITIVE_INFINITY,
  });
  const withDb = async (work: (db: SqlRunner) => Promise<void>) => {
    const { db, close } = await target.open();
    try {
      await work(db);
    } finally {
      await close();
    }
  };

  describe(`the database census on ${target.label}`, () => {
    it('finds nothing in a database whose ciphertext is all configured', () =>
      withDb(async (db) => {
        await seedConfigured(db, 20);
        const census = await takeDatabaseCensus(CENSUS_STAGED, deps(db, censusConfig(target.dialect)));
        assert.deepEqual(census.found, []);
        assert.deepEqual(census.unchecked, []);
        assert.equal(census.checked, 2, 'the two name columns');
        assert.equal(census.skipped.configured, 2);
        // MySQL reads a column a chunk of its table's primary key at a time: the keys, and each table's lookup.
        const lookups = target.dialect === 'mysql' ? 1 + 2 : 0;
        assert.equal(census.lookups, lookups);
        assert.equal(census.cost.statements, 3 + lookups, 'the catalog and one aggregate per column');
      }));

    it(`finds planted rk1 and Fernet values in unconfigured text, varchar and binary columns${target.dialect === 'postgres' ? ' of several schemas' : ''}`, () =>
      withDb(async (db) => {
        await seedConfigured(db, 20);
        await plantUnlisted(db);
        const census = await takeDatabaseCensus(CENSUS_STAGED, deps(db, censusConfig(target.dialect)));
        assert.deepEqual(summarize(census.found), [
          'cache.token fernet current 5 of 5/5',
          'cache.v rk1 previous 7 exact',
          'events.note rk1 current 12 exact',
          'events.note rk1 unknown 3 exact',
          'events.payload fernet current 30 of 30/30',
        ]);
        const schemas = new Set(census.found.map((f) => f.schema));
        if (target.dialect === 'postgres') assert.deepEqual([...schemas].sort(), ['app2', 'audit']);
        const note = census.found.find((f) => f.column === 'note' && f.label === 'current');
        assert.equal(note?.versionId, 'version-a');
        assert.equal(note?.field, 'encryptionKey');
        assert.match(note?.keyId ?? '', /^rk1:[A-Za-z0-9_-]{8}:$/);
        assert.equal(census.found.find((f) => f.column === 'token')?.field, 'encryptionKey');
        assert.equal(census.found.find((f) => f.column === 'payload')?.codec, 'fernet-sha256');
        assert.equal(census.skipped.tooShort, 1, 'varchar(20)');
        // The catalog; a screen of each table of several columns (events, cache), then an aggregate of
        // each column it found holding either format (not cache.k) and of the tables of one (accounts,
        // sources); a sample per column holding Fernet values.
        assert.equal(census.checked, 7);
        assert.equal(census.aggregates, 2 + 4 + 2);
        assert.equal(census.samples, census.fernetColumns);
        assert.equal(census.cost.statements, 1 + census.lookups + census.aggregates + census.fernetColumns);
        assert.equal(census.fernetColumns, 2);
      }));

    it('counts a column a chunk of its primary key at a time with the same findings, and stops between chunks at the deadline', () =>
      withDb(async (db) => {
        await seedConfigured(db, 20);
        await plantUnlisted(db);
        const config = censusConfig(target.dialect);
        const whole = await takeDatabaseCensus(CENSUS_STAGED, deps(db, config));
        const counted = countedRunner(db);
        const isChunk = /ORDER BY MAX\(s\.k\) DESC/;
        const chunks = () => counted.statements.filter((s) => isChunk.test(s.sql));
        const census = await takeDatabaseCensus(CENSUS_STAGED, deps(counted.runner, config), {
          chunkRows: 4,
        });
        assert.deepEqual(summarize(census.found), summarize(whole.found));
        assert.deepEqual(census.unchecked, []);
        // events: 30 rows, seven chunks of 4 and one of 2 (payload and note; short is too short);
        // cache: 9 rows, 4, 4 and 1 (v and token; k holds neither format, as its screen found);
        // accounts.name: 20 rows, five chunks and an empty one; sources.name: 10 rows, 4, 4 and 2.
        assert.equal(chunks().length, 2 * 8 + 2 * 3 + 6 + 3);
        assert.ok(
          !chunks().some((s) => /SUBSTRING\((CAST\()?[`"]k[`"]/.test(s.sql)),
          'no aggregate of cache.k',
        );
        // The screens of events and cache read the same chunks, each holding a flag per column.
        const screens = counted.statements.filter((s) => /SUM\(s\.f0\), SUM\(s\.f1\)/.test(s.sql));
        assert.equal(screens.length, 8 + 3);
        assert.equal(census.aggregates, chunks().length + screens.length);
        assert.equal(census.lookups, 1 + 4, 'the primary keys, and each of the four tables once');
        // Fernet samples: a chunk of events.payload each (8), and the two of cache.token holding some.
        assert.equal(census.samples, 8 + 2);
        assert.equal(census.cost.statements, 1 + census.lookups + census.aggregates + census.samples);

        // The deadline passes after the first chunk of events.note (ids 1-4, all rk1 under A): what was
        // read is found all the same, the column is unchecked, and so are those not reached.
        const ofNote = /[`"]note[`"]/;
        const ofNoteChunk = (sql: string) => isChunk.test(sql) && ofNote.test(sql);
        const { census: stopped, sent } = await censusPastDeadline(db, ofNoteChunk, { chunkRows: 4 });
        assert.equal(sent.filter(ofNoteChunk).length, 1, 'no chunk after the deadline');
        assert.ok(summarize(stopped.found).includes('events.note rk1 current 4 exact'));
        const unchecked = stopped.unchecked.map((u) => `${u.table}.${u.column}: ${u.reason}`);
        assert.ok(unchecked.includes('events.note: not finished before the deadline'), unchecked.join('; '));
        assert.ok(
          unchecked.every((u) => /^events\.note: |: not reached before the deadline$/.test(u)),
          unchecked.join('; '),
        );
        assert.ok(unchecked.length >= 2, 'the columns after it');
      }));

    it('samples Fernet values a chunk at a time, the same values as one statement over the column', () =>
      withDb(async (db) => {
        await seedConfigured(db, 4);
        await db.execute('CREATE TABLE tokens (id BIGINT PRIMARY KEY, t TEXT)');
        const config = censusConfig(target.dialect);
        const counted = countedRunner(db);
        const tokens = (census: { found: readonly FoundCiphertext[] }) =>
          summarize(census.found.filter((f) => f.table === 'tokens'));
        // Every third under A (staged), the rest under C (staged nowhere): a sample's split between
        // the two tells which values it holds. Fernet's IVs are random, and so is which 7 values come
        // first in MD5 order: a sample under one key only (3.5% of seedings) is seeded again.
        let whole = { found: [] as readonly FoundCiphertext[] };
        for (let seeding = 0; seeding < 8 && tokens(whole).length < 2; seeding++) {
          await db.execute('DELETE FROM tokens');
          await insertRows(
            db,
            'tokens',
            ['id', 't'],
            Array.from({ length: 40 }, (_, i) => [
              i + 1,
              encrypted(
                'fernet-sha256',
                'cookieSecret',
                i % 3 === 0 ? RK1_SECRET_A : RK1_SECRET_C,
                'tokens',
                't',
                i,
              ),
            ]),
          );
          whole = await takeDatabaseCensus(CENSUS_STAGED, deps(db, config), { sampleRows: 7 });
        }
        const chunked = await takeDatabaseCensus(CENSUS_STAGED, deps(counted.runner, config), {
          sampleRows: 7,
          chunkRows: 6,
        });
        assert.deepEqual(tokens(chunked), tokens(whole));
        assert.equal(tokens(whole).length, 2, tokens(whole).join('; '));
        const isSample = (sql: string) => /MD5\(.*\) AS h FROM .*tokens/.test(sql);
        const samples = counted.statements.filter((st) => isSample(st.sql));
        assert.equal(samples.length, 7, 'one a chunk of 6 of the 40 rows');
        assert.equal(chunked.samples, samples.length);
        assert.equal(chunked.cost.statements, 1 + chunked.lookups + chunked.aggregates + chunked.samples);

        // The deadline passes after the sample's first chunk (ids 1-6: two under A, four under C): the
        // sample stops there, what it read is found, and the column is reported as not finished.
        const { census: stopped, sent } = await censusPastDeadline(db, isSample, {
          sampleRows: 7,
          chunkRows: 6,
        });
        assert.equal(sent.filter(isSample).length, 1);
        assert.deepEqual(tokens(stopped), [
          'tokens.t fernet current 2 of 6/40',
          'tokens.t fernet unknown 4 of 6/40',
        ]);
        assert.deepEqual(
          stopped.unchecked.map((u) => `${u.table}.${u.column}: ${u.reason}`),
          ['tokens.t: not finished before the deadline'],
        );
      }));

    it('reads a bounded sample of Fernet values, and every one with full', () =>
      withDb(async (db) => {
        await seedConfigured(db, 20);
        await plantUnlisted(db);
        const config = censusConfig(target.dialect);
        const sampled = await takeDatabaseCensus(CENSUS_STAGED, deps(db, config), { sampleRows: 8 });
        const payload = sampled.found.find((f) => f.column === 'payload');
        assert.deepEqual(
          {
            rows: payload?.rows,
            sampled: payload?.sampled,
            candidates: payload?.candidates,
            exact: payload?.exact,
          },
          { rows: 8, sampled: 8, candidates: 30, exact: false },
        );
        const full = await takeDatabaseCensus(
          CENSUS_STAGED,
          deps(db, { ...config, paging: { maxRows: 7, maxBytes: 512 * 1024 } }),
          {
            full: true,
          },
        );
        assert.deepEqual(summarize(full.found.filter((f) => f.format === 'fernet')), [
          'cache.token fernet current 5 exact',
          'events.payload fernet current 30 exact',
        ]);
      }));

    it('checkUnlistedCiphertext fails on a planted column, naming it, and passes once it is configured or ignored', () =>
      withDb(async (db) => {
        await seedConfigured(db, 20);
        await plantUnlisted(db);
        const config = censusConfig(target.dialect);
        const versions = { target: RK1_SECRET_C, sources: [RK1_SECRET_A, RK1_SECRET_B] };
        const error = await checkUnlistedCiphertext(versions, deps(db, config)).then(
          () => assert.fail('no error'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof UnlistedCiphertextError);
        assert.equal(error.name, 'UnlistedCiphertextError');
        assert.match(
          error.message,
          /^4 columns outside the configuration hold ciphertext under a staged key/,
        );
        assert.match(error.message, /events\.note: 12 rows under AWSCURRENT \(key id rk1:/);
        assert.match(error.message, /cache\.v: 7 rows under AWSPREVIOUS/);
        assert.match(
          error.message,
          /events\.payload: 30 of 30 sampled fernet values \(of 30\) under AWSCURRENT/,
        );
        assert.match(error.message, /Add each column to storedFields .* or to ignoredColumns with a reason/);
        // C is the pending key here: the 3 rows under it count as under a staged key.
        assert.deepEqual(error.found.map((f) => `${f.column} ${f.label}`).sort(), [
          'note current',
          'note pending',
          'payload current',
          'token current',
          'v previous',
        ]);
        for (const s of [RK1_SECRET_A, RK1_SECRET_B, ...PLAINTEXTS]) assert.ok(!error.message.includes(s));

        const fixed = censusConfig(target.dialect, {
          storedFields: [
            ...config.storedFields,
            {
              table: 'events',
              ...(p.eventsSchema ? { schema: p.eventsSchema } : {}),
              id: 'id',
              columns: ['note'],
            },
          ],
          ignoredColumns: [
            {
              table: 'events',
              schema: p.eventsSchema,
              column: 'payload',
              reason: 'audit copies, expire in 7 days',
            },
            { table: 'cache', schema: p.cacheSchema, column: 'v', reason: 'a cache, rebuilt on a miss' },
            { table: 'cache', schema: p.cacheSchema, column: 'token', reason: 'a cache, rebuilt on a miss' },
          ],
        });
        const census = await checkUnlistedCiphertext(versions, deps(db, fixed));
        assert.deepEqual(census.found, []);
        assert.equal(census.skipped.ignored, 3);
      }));

    it(`plan predicts the rotation's Data API calls within 20% and its rows exactly, and writes nothing`, () =>
      withDb(async (db) => {
        await seedConfigured(db, 240);
        const config = censusConfig(target.dialect, { paging: { maxRows: 25, maxBytes: 512 * 1024 } });
        const counted = countedRunner(db);
        const clock = fakeClock();
        const log = memoryLog();
        const secrets = new MemorySecrets(SECRET_ARN);
        secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
        secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
        secrets.add(undefined, ['AWSPENDING'], TOKEN);

        counted.setPhase('plan');
        const before = await snapshotAll(db, ['accounts', 'sources']);
        const plan = await planRotation(CENSUS_STAGED, {
          db: counted.runner,
          clock,
          log,
          config,
          deadline: clock.now() + 3_600_000,
        });
        assert.deepEqual(
          await snapshotAll(db, ['accounts', 'sources']),
          before,
          'plan changed a stored value',
        );
        const planned = counted.statements.filter((s) => s.phase === 'plan');
        assert.deepEqual(
          planned.filter((s) => !/^\s*SELECT\b/i.test(s.sql)).map((s) => s.sql),
          [],
          'plan sent a statement other than SELECT',
        );
        assert.deepEqual(plan.warnings, []);

        const step = async (s: RotationStep) => {
          counted.setPhase(s);
          await runStep(
            { Step: s, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
            { secrets, db: counted.runner, clock, log, config, deadline: clock.now() + 15 * 60_000 },
          );
        };
        for (const s of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const) await step(s);
        assert.deepEqual(secrets.stagesOf(TOKEN), ['AWSCURRENT']);

        assert.equal(counted.counts.createSecret ?? 0, 0);
        const censusWired = counted.statements.some(
          (s) => s.phase === 'testSecret' && CENSUS_CATALOG.test(s.sql),
        );
        const predicted = {
          setSecret: plan.steps.setSecret.calls.total,
          testSecret:
            plan.steps.testSecret.calls.total - (censusWired ? 0 : plan.steps.testSecret.calls.census),
          finishSecret: plan.steps.finishSecret.calls.total,
        };
        for (const [name, calls] of Object.entries(predicted)) {
          const actual = counted.counts[name] ?? 0;
          assert.ok(
            Math.abs(calls - actual) <= 0.2 * actual,
            `${name}: predicted ${calls} calls, the rotation made ${actual}`,
          );
        }
        const fields = (message: RegExp) =>
          log.entries.find((e) => message.test(e.message))?.fields as Record<string, number> | undefined;
        const rewritten = plan.passes.reduce((n, c) => n + c.setSecret.rowsRewritten, 0);
        assert.equal(fields(/^setSecret: stored fields re-encrypted/)?.rewritten, rewritten);
        assert.equal(rewritten, 216 + 120);
        assert.equal(
          fields(/^testSecret: every stored field decrypts/)?.rows,
          plan.passes.reduce((n, c) => n + c.testSecret.verifyRows, 0),
        );
        assert.deepEqual(
          { current: plan.total.current, previous: plan.total.previous, nulls: plan.total.nulls },
          { current: 168 + 80, previous: 48 + 40, nulls: 24 },
        );
      }));
  });
}
