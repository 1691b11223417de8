import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLog } from '../../lambda/log.js';
import { takeDatabaseCensus } from '../../lambda/passes/db-census.js';
import type { SqlResult, SqlRunner } from '../../lambda/ports.js';
import {
  CENSUS_STAGED,
  censusConfig,
  censusPastDeadline,
  censusSuite,
  encrypted,
  plantUnlisted,
  seedConfigured,
  summarize,
} from '../support/census-suite.js';
import { fakeClock } from '../support/fake-clock.js';
import { RK1_SECRET_A } from '../support/fixtures.js';
import { pgliteRunner } from '../support/pglite-runner.js';
import { recordingRunner } from '../support/recording-runner.js';

/** The embedded PostgreSQL, emptied: public recreated, the suite's other schemas dropped. */
async function freshPglite(): Promise<SqlRunner & { calls: number }> {
  const db = await pgliteRunner();
  await db.execute('DROP SCHEMA IF EXISTS audit CASCADE');
  await db.execute('DROP SCHEMA IF EXISTS app2 CASCADE');
  return db;
}

censusSuite({
  label: 'embedded PostgreSQL (PGlite)',
  dialect: 'postgres',
  open: async () => ({ db: await freshPglite(), close: async () => {} }),
});

describe('the database census, what it cannot check', () => {
  const deps = (db: SqlRunner, clock = fakeClock(), deadline = Number.POSITIVE_INFINITY) => ({
    db,
    clock,
    log: memoryLog(),
    config: censusConfig('postgres'),
    deadline,
  });

  it('reports a column whose SELECT the database refuses as unchecked, and checks the rest', async () => {
    const db = await freshPglite();
    await seedConfigured(db, 5);
    await plantUnlisted(db);
    const refusing: SqlRunner = {
      ...db,
      dialect: 'postgres',
      execute: async (sql, params, options) => {
        if (sql.includes('"app2"."cache"'))
          throw Object.assign(new Error('permission denied for table cache'), {
            name: 'BadRequestException',
          });
        return db.execute(sql, params, options);
      },
    };
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(refusing));
    assert.deepEqual(
      census.unchecked.map((u) => `${u.schema}.${u.table}.${u.column}: ${u.reason}`),
      [
        'app2.cache.k: BadRequestException: permission denied for table cache',
        'app2.cache.v: BadRequestException: permission denied for table cache',
        'app2.cache.token: BadRequestException: permission denied for table cache',
      ],
    );
    assert.deepEqual(summarize(census.found), [
      'events.note rk1 current 12 exact',
      'events.note rk1 unknown 3 exact',
      'events.payload fernet current 30 of 30/30',
    ]);
  });

  it('leaves a column whose aggregate keeps timing out unchecked, and checks the rest', async () => {
    const db = await freshPglite();
    await seedConfigured(db, 5);
    await plantUnlisted(db);
    let timeouts = 0;
    const slow: SqlRunner = {
      ...db,
      dialect: 'postgres',
      execute: async (sql, params, options) => {
        if (sql.includes('"app2"."cache"')) {
          timeouts++;
          throw Object.assign(new Error('Statement timed out'), { name: 'StatementTimeoutException' });
        }
        return db.execute(sql, params, options);
      },
    };
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(slow));
    const reasons = census.unchecked.map((u) => `${u.schema}.${u.table}.${u.column}: ${u.reason}`);
    assert.deepEqual(
      reasons.map((r) => r.slice(0, r.indexOf(':', r.indexOf(':') + 1) + 1)),
      [
        'app2.cache.k: StatementTooSlowError:',
        'app2.cache.v: StatementTooSlowError:',
        'app2.cache.token: StatementTooSlowError:',
      ],
    );
    // One attempt for the screen of the table's three columns, then one a column (a read that took
    // 45 s once would again; the screen reads more than one column does), not the three a page gets.
    assert.equal(timeouts, 1 + 3);
    assert.equal(summarize(census.found).length, 3);
  });

  /** The screen of a table's columns (db-census.ts, screenTable): one SUM a column, in one statement. */
  const isScreen = (sql: string) => /^SELECT COUNT\(\*\), SUM\(/.test(sql);

  it('checks the columns of a table one at a time, with the same findings, when the database refuses their screen', async () => {
    const db = await freshPglite();
    await seedConfigured(db, 5);
    await plantUnlisted(db);
    const whole = await takeDatabaseCensus(CENSUS_STAGED, deps(db));
    const refusing = recordingRunner({
      ...db,
      dialect: 'postgres',
      execute: async (sql, params, options) => {
        if (isScreen(sql))
          throw Object.assign(new Error('function substring(jsonb) does not exist'), {
            name: 'BadRequestException',
          });
        return db.execute(sql, params, options);
      },
    });
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(refusing));
    assert.deepEqual(summarize(census.found), summarize(whole.found));
    assert.deepEqual(census.unchecked, []);
    const { sent } = refusing;
    assert.equal(sent.filter(isScreen).length, 2, 'events and cache');
    assert.ok(
      sent.some((sql) => !isScreen(sql) && sql.includes('"app2"."cache"') && /SUBSTRING\("k"/.test(sql)),
      'cache.k checked alone',
    );
  });

  it('fails, never reads as nothing found, when a screen answers without its row or with no count', async () => {
    const answers: SqlResult[] = [
      { rows: [], updated: 0 },
      { rows: [['5', 'many', '0']], updated: 0 },
      { rows: [['0']], updated: 0 },
    ];
    for (const answer of answers) {
      const db = await freshPglite();
      await plantUnlisted(db);
      const blind: SqlRunner = {
        ...db,
        dialect: 'postgres',
        execute: async (sql, params, options) =>
          isScreen(sql) && sql.includes('"audit"."events"') ? answer : db.execute(sql, params, options),
      };
      await assert.rejects(takeDatabaseCensus(CENSUS_STAGED, deps(blind)), { name: 'UnexpectedAnswerError' });
    }
  });

  it('does not screen, where it reads in chunks, a table with no key to chunk by: its columns are checked one at a time', async () => {
    const db = await freshPglite();
    await db.execute('CREATE TABLE pairs (a int, b int, note text, body text, PRIMARY KEY (a, b))');
    await db.execute('INSERT INTO pairs VALUES (1, 1, :v, :plain), (1, 2, :plain, :plain)', {
      v: encrypted('rk1', 'encryptionKey', RK1_SECRET_A, 'pairs', 'note'),
      plain: 'a note',
    });
    const recording = recordingRunner(db);
    const { sent } = recording;
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(recording), { chunkRows: 4 });
    assert.deepEqual(summarize(census.found), ['pairs.note rk1 current 1 exact']);
    const ofPairs = sent.filter((sql) => sql.includes('"public"."pairs"'));
    assert.equal(ofPairs.filter(isScreen).length, 0);
    assert.equal(ofPairs.length, 2, 'one aggregate a column, over the whole table');
    // Without chunks (PostgreSQL's default), the same table is screened.
    sent.length = 0;
    await takeDatabaseCensus(CENSUS_STAGED, deps(recording));
    assert.equal(sent.filter((sql) => sql.includes('"public"."pairs"')).filter(isScreen).length, 1);
  });

  it('stops a screen between chunks at the deadline and reports its columns not finished', async () => {
    const db = await freshPglite();
    await plantUnlisted(db);
    const { census, sent } = await censusPastDeadline(db, isScreen, { chunkRows: 4 });
    const screens = sent.filter(isScreen);
    assert.equal(screens.length, 1, 'no chunk after the deadline');
    // app2.cache comes first in the catalog: its screen read one chunk; events' was not reached.
    const unchecked = census.unchecked.map((u) => `${u.table}.${u.column}: ${u.reason}`);
    assert.deepEqual(unchecked.slice(0, 3), [
      'cache.k: not finished before the deadline',
      'cache.v: not finished before the deadline',
      'cache.token: not finished before the deadline',
    ]);
    assert.ok(unchecked.length > 3, 'the columns after it');
    assert.ok(
      unchecked.slice(3).every((u) => u.endsWith(': not reached before the deadline')),
      unchecked.join('; '),
    );
    assert.deepEqual(census.found, [], 'nothing read far enough to be found');
  });

  it('leaves names it does not quote unchecked, and says so', async () => {
    const db = await freshPglite();
    await db.execute('CREATE TABLE "odd name" (id int PRIMARY KEY, "v-1" text)');
    await db.execute(`INSERT INTO "odd name" VALUES (1, :v)`, {
      v: encrypted('rk1', 'encryptionKey', RK1_SECRET_A, 'odd name', 'v-1'),
    });
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(db));
    assert.deepEqual(census.unchecked, [
      {
        schema: 'public',
        table: 'odd name',
        column: 'v-1',
        reason: 'not a plain identifier, which rekey does not quote',
      },
    ]);
  });

  it('stops checking at the deadline less safetyMarginMs and lists what it did not reach', async () => {
    const db = await freshPglite();
    await plantUnlisted(db);
    const clock = fakeClock();
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(db, clock, clock.now() + 30_000 - 1));
    assert.equal(census.checked, 0);
    assert.ok(census.unchecked.length > 0);
    assert.ok(census.unchecked.every((u) => u.reason === 'not reached before the deadline'));
  });

  it('does not read a table that is a partition: its parent reads it', async () => {
    const db = await freshPglite();
    await db.execute('CREATE TABLE logs (id int, at int, body text) PARTITION BY RANGE (at)');
    await db.execute('CREATE TABLE logs_1 PARTITION OF logs FOR VALUES FROM (0) TO (100)');
    await db.execute('INSERT INTO logs VALUES (1, 5, :v)', {
      v: encrypted('rk1', 'encryptionKey', RK1_SECRET_A, 'logs', 'body'),
    });
    const census = await takeDatabaseCensus(CENSUS_STAGED, deps(db));
    assert.deepEqual(summarize(census.found), ['logs.body rk1 current 1 exact']);
  });
});

describe('the database census with full', () => {
  it('counts every Fernet value of a table without a primary key too, duplicates included', async () => {
    const db = await freshPglite();
    await db.execute('CREATE TABLE outbox (body bytea)');
    const token = encrypted('fernet-sha256', 'cookieSecret', RK1_SECRET_A, 'outbox', 'body');
    for (let i = 0; i < 9; i++)
      await db.execute('INSERT INTO outbox VALUES (:v)', {
        v: Buffer.from(
          i < 3 ? token : encrypted('fernet-sha256', 'cookieSecret', RK1_SECRET_A, 'outbox', 'body', i),
          'latin1',
        ),
      });
    const config = { ...censusConfig('postgres'), paging: { maxRows: 2, maxBytes: 512 * 1024 } };
    const census = await takeDatabaseCensus(
      CENSUS_STAGED,
      {
        db,
        clock: fakeClock(),
        log: memoryLog(),
        config,
        deadline: Number.POSITIVE_INFINITY,
      },
      { full: true },
    );
    assert.deepEqual(summarize(census.found), ['outbox.body fernet current 9 exact']);
  });
});
