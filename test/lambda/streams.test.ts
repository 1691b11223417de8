import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { NotFinishedError } from '../../lambda/errors.js';
import { silentLog } from '../../lambda/log.js';
import type { PassDeps } from '../../lambda/passes/pass-deps.js';
import { reencrypt } from '../../lambda/passes/reencrypt.js';
import { chooseStreams, keyRanges, rangesBetween } from '../../lambda/passes/streams.js';
import { rangesOfPages, verifyAll } from '../../lambda/passes/verify.js';
import type { ProgressEvent, SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { TableSql } from '../../lambda/sql.js';
import { fakeClock } from '../support/fake-clock.js';
import { keyOf, RK1_SECRET_A, RK1_SECRET_B, rk1Config, seedRk1 } from '../support/fixtures.js';
import { pgliteRunner } from '../support/pglite-runner.js';
import { recordingRunner } from '../support/recording-runner.js';

const ROWS = 40;
/** Three-row pages: a column of 40 rows splits into four ranges of ten (two pages each at least). */
const CONFIG = withCodes(rk1Config({ paging: { maxRows: 3, maxBytes: 512 * 1024 } }));
const PLAN = { target: RK1_SECRET_B, sources: [RK1_SECRET_A] };
/** A Data API call as slow as the published median: four streams. */
const CALL_MS = 100;

/** The fixtures' three tables (bigint, text and uuid ids) and one with char(6) ids (bpchar). */
function withCodes(config: RekeyConfig): RekeyConfig {
  return {
    ...config,
    storedFields: [...config.storedFields, { table: 'codes', id: 'code', columns: ['value'] }],
  };
}

async function world(rows = ROWS) {
  const db = await pgliteRunner();
  await seedRk1(db, CONFIG, RK1_SECRET_A, rows);
  await db.execute('CREATE TABLE codes (code char(6) PRIMARY KEY, value text)');
  for (let i = 1; i <= rows; i++) await insertCode(db, `c${String(i * 10).padStart(3, '0')}`);
  return db;
}

async function insertCode(db: SqlRunner, code: string, secret = RK1_SECRET_A): Promise<void> {
  const value = codecFor('rk1').encrypt(Buffer.from('x'), keyOf(secret, CONFIG), {
    table: 'codes',
    column: 'value',
  });
  await db.execute('INSERT INTO codes VALUES (:code, :value)', { code, value });
}

/**
 * Each statement takes CALL_MS on the fake clock and yields to the others before it runs, as a round
 * trip would; page reads record the ids they returned, per table and column (from the select list).
 */
function slow(
  inner: SqlRunner,
  clock: ReturnType<typeof fakeClock>,
  hooks: { beforeRead?: () => Promise<void> } = {},
) {
  const read = new Map<string, string[]>();
  let inFlight = 0;
  const state = { peak: 0, inFlight: () => inFlight, writes: 0 };
  const runner: SqlRunner = {
    ...inner,
    async execute(sql: string, params?: Readonly<Record<string, SqlValue>>): Promise<SqlResult> {
      inFlight++;
      state.peak = Math.max(state.peak, inFlight);
      try {
        clock.advance(CALL_MS);
        await new Promise((resolve) => setImmediate(resolve));
        const isPage = sql.includes(' AS v FROM ');
        if (isPage) await hooks.beforeRead?.();
        const result = await inner.execute(sql, params);
        if (sql.startsWith('UPDATE')) state.writes++;
        if (isPage) {
          const key = `${/AS v FROM "(\w+)"/.exec(sql)?.[1]}.${/, "(\w+)" AS v/.exec(sql)?.[1]}`;
          read.set(key, [...(read.get(key) ?? []), ...result.rows.map((r) => String(r[0]))]);
        }
        return result;
      } finally {
        inFlight--;
      }
    },
  };
  return { runner, read, state };
}

function deps(db: SqlRunner, clock: ReturnType<typeof fakeClock>, extra: Partial<PassDeps> = {}): PassDeps {
  return { db, clock, log: silentLog, config: CONFIG, deadline: clock.now() + 3_600_000, ...extra };
}

async function valuesByTable(db: SqlRunner): Promise<Map<string, { id: string; kid: string }[]>> {
  const out = new Map<string, { id: string; kid: string }[]>();
  for (const [table, id, column] of [
    ['data_sources', 'id', 'options'],
    ['data_sources', 'id', 'extra'],
    ['tokens', 'token_id', 'value'],
    ['alerts', 'uid', 'destination'],
    ['codes', 'code', 'value'],
  ] as const) {
    const r = await db.execute(
      `SELECT CAST(${id} AS text), ${column} FROM ${table} WHERE ${column} IS NOT NULL ORDER BY ${id}`,
    );
    out.set(
      `${table}.${column}`,
      r.rows.map((row) => ({ id: String(row[0]), kid: String(row[1]).split(':')[1] ?? '?' })),
    );
  }
  return out;
}

describe('several streams per column', () => {
  it('picks one stream for fast calls and more for slow ones, within paging.maxStreams', () => {
    assert.equal(chooseStreams(0, CONFIG, 'read'), 1);
    assert.equal(chooseStreams(10, CONFIG, 'read'), 1);
    assert.equal(chooseStreams(100, CONFIG, 'read'), 4);
    assert.equal(chooseStreams(10_000, CONFIG, 'read'), 8);
    assert.equal(chooseStreams(10_000, { paging: { ...CONFIG.paging, maxStreams: 3 } }, 'read'), 3);
  });

  it('gives a write pass fewer streams: each holds three pages, and its pages cost twice the CPU', () => {
    assert.equal(chooseStreams(10, CONFIG, 'write'), 1);
    assert.equal(chooseStreams(100, CONFIG, 'write'), 2);
    assert.equal(chooseStreams(250, CONFIG, 'write'), 4);
    assert.equal(chooseStreams(10_000, CONFIG, 'write'), 8);
    assert.equal(chooseStreams(250, { paging: { ...CONFIG.paging, streams: 6 } }, 'write'), 6);
  });

  it('splits a column into ranges that meet at boundary ids and cover it once, for bigint, text, uuid and char(n) ids', async () => {
    const db = await world(10);
    const clock = fakeClock();
    for (const stored of CONFIG.storedFields) {
      const table = await TableSql.open(db, stored);
      const column = stored.columns[0] as string;
      const ranges = await keyRanges(deps(db, clock), table, column, {
        rows: 10,
        ranges: 3,
        skipPrefix: undefined,
      });
      assert.equal(ranges.length, 3, stored.table);
      assert.equal(ranges[0]?.after, undefined);
      assert.equal(ranges[2]?.upTo, undefined);
      assert.equal(ranges[1]?.after, ranges[0]?.upTo);
      assert.equal(ranges[2]?.after, ranges[1]?.upTo);
      const seen: string[] = [];
      for (const range of ranges) {
        const page = await table.page(column, { ...range, limit: 100 });
        seen.push(...page.map((r) => r.id));
        assert.ok(page.length >= 3 && page.length <= 4, `${stored.table}: ${page.length} rows in a range`);
      }
      const all = (await table.page(column, { limit: 100 })).map((r) => r.id);
      assert.deepEqual(seen, all, `${stored.table}: every row in exactly one range, in order`);
    }
  });

  it('ends pages where their rows’ weight would pass a page, for bigint, text, uuid and char(n) ids', async () => {
    const db = await world(10);
    for (const stored of CONFIG.storedFields) {
      const table = await TableSql.open(db, stored);
      const column = stored.columns[0] as string;
      // Every row weighs 10,000 (more than any value here), a page 30,000: three rows a page.
      const ends = await table.pageEnds(column, {
        weight: 30_000,
        perByte: 1.1,
        perRow: 64,
        minPerRow: 10_000,
        limit: 9,
      });
      const ranges = rangesBetween(ends);
      const rows = (await table.page(column, { limit: 100 })).map((r) => r.id);
      const seen: string[][] = [];
      for (const range of ranges)
        seen.push((await table.page(column, { ...range, limit: 100 })).map((r) => r.id));
      assert.deepEqual(seen.flat(), rows, `${stored.table}: every row in exactly one range, in order`);
      assert.deepEqual(
        seen.map((r) => r.length),
        [3, 3, 3, 1],
        stored.table,
      );
      const two = await table.pageEnds(column, {
        weight: 30_000,
        perByte: 1.1,
        perRow: 64,
        minPerRow: 10_000,
        limit: 2,
      });
      assert.deepEqual(two, ends.slice(0, 2), `${stored.table}: at most the limit`);
    }
  });

  it('ends pages as a weight over every row would, though it reads only the rows the asked pages hold', async () => {
    const db = await pgliteRunner();
    await db.execute('CREATE TABLE mixed (id integer PRIMARY KEY, value text)');
    // Mostly small values, and some that weigh several pages alone: those end one page each.
    const lengths = Array.from({ length: 120 }, (_, i) => (i % 17 === 5 ? 3000 : 5 + ((i * 37) % 90)));
    for (const [i, length] of lengths.entries())
      await db.execute(`INSERT INTO mixed VALUES (${i + 1}, repeat('x', ${length}))`);
    const recording = recordingRunner(db);
    const statements = recording.sent;
    const table = await TableSql.open(recording, { table: 'mixed', id: 'id', columns: ['value'] });
    // A row weighing less than a page (20 rows of the least weight a page), and one weighing more.
    for (const minPerRow of [50, 2_000]) {
      const page = { weight: 1_000, perByte: 1, perRow: 0, minPerRow };
      const expected: string[] = [];
      let run = 0;
      for (const [i, length] of lengths.entries()) {
        const weight = Math.max(length * 10, minPerRow * 10);
        run += weight;
        if (Math.floor(run / 10_000) > Math.floor((run - weight) / 10_000)) expected.push(String(i + 1));
      }
      for (const limit of [1, 2, 5, 9, expected.length + 1]) {
        statements.length = 0;
        const ends = await table.pageEnds('value', { ...page, limit });
        assert.deepEqual(ends, expected.slice(0, limit), `minPerRow ${minPerRow}, limit ${limit}`);
        const rowsRead = limit * Math.ceil(10_000 / (minPerRow * 10));
        assert.match(statements.at(-1) ?? '', new RegExp(`ORDER BY "id" LIMIT ${rowsRead}\\)`));
      }
    }
  });

  it('re-encrypts every row exactly once with several streams at once, then verifies them all', async () => {
    const db = await world();
    const clock = fakeClock();
    const { runner, read, state } = slow(db, clock);
    const events: ProgressEvent[] = [];
    const report = await reencrypt(PLAN, deps(runner, clock, { progress: (e) => events.push(e) }));
    const stored = await valuesByTable(db);
    const target = keyOf(RK1_SECRET_B, CONFIG).kid;
    for (const [key, rows] of stored) {
      assert.ok(rows.length > 0);
      assert.ok(
        rows.every((r) => r.kid === target),
        `${key}: every row under the pending key`,
      );
      assert.deepEqual(
        [...(read.get(key) ?? [])].sort(),
        rows.map((r) => r.id).sort(),
        `${key}: every row read exactly once`,
      );
      const column = report.columns.find((c) => `${c.table}.${c.column}` === key);
      assert.equal(column?.rewritten, rows.length);
      // Progress per column: monotonic, and ends at the column's rows.
      const mine = events.filter((e) => `${e.table}.${e.column}` === key).map((e) => e.rows);
      assert.deepEqual(
        mine,
        [...mine].sort((a, b) => a - b),
      );
      assert.equal(mine.at(-1), rows.length);
    }
    assert.ok(state.peak > 2, `statements ran side by side (peak ${state.peak})`);
    assert.ok(state.peak <= CONFIG.pacing.maxConcurrentStatements, `within pacing (peak ${state.peak})`);
    assert.equal(events.at(-1)?.done, report.total);

    const verified = await verifyAll(PLAN, deps(slow(db, clock).runner, clock));
    for (const c of verified) {
      assert.equal(c.rows, stored.get(`${c.table}.${c.column}`)?.length);
      assert.equal(c.underTarget, c.rows);
      assert.deepEqual(c.counted, { before: c.rows, after: c.rows });
    }
  });

  it('reads every row once whether the ends of all a column’s pages came back beside its count or not', async () => {
    const db = await world();
    const clock = fakeClock();
    await reencrypt(PLAN, deps(db, clock));
    const stored = await valuesByTable(db);
    // Two streams. Three-row pages: every column's page ends come back (14 pages at most, 16 asked
    // for); one-row pages: up to 40, more than were asked for, so the boundaries query splits them.
    for (const [maxRows, splits] of [
      [3, 0],
      [1, 5],
    ] as const) {
      const config = { ...CONFIG, paging: { ...CONFIG.paging, maxRows, streams: 2 } };
      let boundaries = 0;
      const { runner, read } = slow(
        {
          ...db,
          execute: (sql, params, options) => {
            if (sql.includes('ROW_NUMBER()')) boundaries++;
            return db.execute(sql, params, options);
          },
        },
        clock,
      );
      const verified = await verifyAll(PLAN, { ...deps(runner, clock), config });
      for (const c of verified) {
        const key = `${c.table}.${c.column}`;
        const ids = stored.get(key)?.map((r) => r.id) ?? [];
        assert.deepEqual([...(read.get(key) ?? [])].sort(), [...ids].sort(), `${key}, ${maxRows}-row pages`);
        assert.equal(c.underTarget, ids.length);
      }
      assert.equal(boundaries, splits, `boundaries queries at ${maxRows}-row pages`);
    }
  });

  it('groups the pages whose ends it knows into one range a stream, a page apart at most', () => {
    const ends = ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    // Ten pages on four streams: 2, 3, 2 and 3 pages.
    assert.deepEqual(rangesOfPages(ends, 4), [
      { after: undefined, upTo: 'c' },
      { after: 'c', upTo: 'f' },
      { after: 'f', upTo: 'h' },
      { after: 'h', upTo: undefined },
    ]);
    assert.deepEqual(rangesOfPages(['b'], 4), [
      { after: undefined, upTo: 'b' },
      { after: 'b', upTo: undefined },
    ]);
    assert.deepEqual(rangesOfPages([], 4), [{ after: undefined, upTo: undefined }]);
    // As many ends as were asked for: there may be more pages.
    assert.equal(
      rangesOfPages(
        Array.from({ length: 16 }, (_, i) => String(i)),
        2,
      ),
      undefined,
    );
  });

  it('loses no row while the app inserts and deletes rows in every range during the pass', async () => {
    const db = await world();
    const clock = fakeClock();
    let reads = 0;
    const inserted: string[] = [];
    const { runner } = slow(db, clock, {
      beforeRead: async () => {
        reads++;
        if (reads % 3 !== 0 || reads > 30) return;
        // Below the first id, between two ranges' rows, above the last, and a delete.
        const code = ['a', 'c', 'd', 'z'][reads % 4] + String(reads).padStart(5, '0');
        inserted.push(code);
        await insertCode(db, code);
        await db.execute('DELETE FROM codes WHERE code = :code', {
          code: `c${String(reads * 10).padStart(3, '0')}`,
        });
      },
    });
    await reencrypt(PLAN, deps(runner, clock));
    const target = keyOf(RK1_SECRET_B, CONFIG).kid;
    const source = keyOf(RK1_SECRET_A, CONFIG).kid;
    const codes = (await valuesByTable(db)).get('codes.value') ?? [];
    assert.ok(inserted.length >= 8);
    for (const row of codes) {
      const wasThere = !inserted.includes(row.id);
      if (wasThere) assert.equal(row.kid, target, `row ${row.id}, there from the start, is moved`);
      else assert.ok(row.kid === target || row.kid === source, `row ${row.id} stays readable`);
    }
    // A second pass (testSecret's catch-up) moves what the app wrote behind the streams.
    await reencrypt(PLAN, deps(db, clock));
    const after = (await valuesByTable(db)).get('codes.value') ?? [];
    assert.equal(after.length, codes.length);
    assert.ok(after.every((r) => r.kid === target));
  });

  it('stops every stream at the deadline with no statement outstanding, and a re-run finishes the rest', async () => {
    const db = await world();
    const clock = fakeClock();
    const { runner, state } = slow(db, clock);
    const deadline = clock.now() + 3_600_000;
    const ticking: SqlRunner = {
      ...runner,
      async execute(sql, params) {
        const result = await runner.execute(sql, params);
        if (sql.startsWith('UPDATE') && state.writes === 6) clock.advance(3_600_000);
        return result;
      },
    };
    const rejected = await reencrypt(PLAN, deps(ticking, clock, { deadline })).then(
      () => undefined,
      (error: unknown) => ({ error, inFlight: state.inFlight() }),
    );
    assert.ok(
      rejected?.error instanceof NotFinishedError,
      `NotFinishedError, got ${String(rejected?.error)}`,
    );
    assert.equal(rejected.inFlight, 0, 'no statement outstanding when the pass throws');
    const target = keyOf(RK1_SECRET_B, CONFIG).kid;
    const moved = [...(await valuesByTable(db)).values()].flat().filter((r) => r.kid === target).length;
    assert.ok(moved > 0, 'the written pages stay written');
    await reencrypt(PLAN, deps(db, clock));
    const all = [...(await valuesByTable(db)).values()].flat();
    assert.ok(all.every((r) => r.kid === target));
  });

  it('stops the other streams when one write fails, awaits theirs, and reports the failure', async () => {
    const db = await world();
    const clock = fakeClock();
    const { runner, state } = slow(db, clock);
    let writes = 0;
    const failing: SqlRunner = {
      ...runner,
      async execute(sql, params) {
        if (sql.startsWith('UPDATE') && ++writes === 5)
          throw Object.assign(new Error('permission denied'), { name: 'ForbiddenException' });
        return runner.execute(sql, params);
      },
    };
    const rejected = await reencrypt(PLAN, deps(failing, clock)).then(
      () => undefined,
      (error: unknown) => ({ error, inFlight: state.inFlight() }),
    );
    assert.equal((rejected?.error as Error | undefined)?.name, 'ForbiddenException');
    assert.equal(rejected?.inFlight, 0);
    const sent = writes;
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writes, sent, 'no write after the pass threw');
  });
});
