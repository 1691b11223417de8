import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFinishedError } from '../../lambda/errors.js';
import { silentLog } from '../../lambda/log.js';
import { reencrypt } from '../../lambda/passes/reencrypt.js';
import { verifyAll } from '../../lambda/passes/verify.js';
import type { SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { fakeClock } from '../support/fake-clock.js';
import { keyOf, RK1_SECRET_A, RK1_SECRET_B, rk1Config, seedRk1 } from '../support/fixtures.js';
import { pgliteRunner } from '../support/pglite-runner.js';

// Only data_sources.options is re-encrypted here, in pages of 2 rows: 7 rows make 4 pages.
const CONFIG = rk1Config({
  storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
  paging: { maxRows: 2, maxBytes: 512 * 1024 },
});
const PLAN = { target: RK1_SECRET_B, sources: [RK1_SECRET_A] };

type Event = `${'read' | 'write'} ${'start' | 'end'}`;

/**
 * Records when each page read and write starts and ends; `holdWrite` decides how long a write stays
 * in flight (it resolves after the given number of other statements have ended) and `failWrite`
 * makes a write fail outright.
 */
function recording(inner: SqlRunner, options: { failWrite?: number } = {}) {
  const events: Event[] = [];
  let writes = 0;
  const runner: SqlRunner = {
    ...inner,
    async execute(sql: string, params?: Readonly<Record<string, SqlValue>>): Promise<SqlResult> {
      const kind = sql.startsWith('UPDATE') ? 'write' : sql.includes(' AS i, ') ? 'read' : undefined;
      if (kind === undefined) return inner.execute(sql, params);
      events.push(`${kind} start`);
      if (kind === 'write' && ++writes === options.failWrite) {
        await new Promise((resolve) => setImmediate(resolve));
        events.push('write end');
        throw Object.assign(new Error('permission denied for table data_sources'), {
          name: 'ForbiddenException',
        });
      }
      // Let the other party run before this statement ends, as a real round trip would.
      await new Promise((resolve) => setImmediate(resolve));
      const result = await inner.execute(sql, params);
      events.push(`${kind} end`);
      return result;
    },
  };
  return { runner, events };
}

async function world() {
  const db = await pgliteRunner();
  await seedRk1(db, CONFIG, RK1_SECRET_A, 7);
  return db;
}

async function rowsUnderB(db: SqlRunner): Promise<number> {
  const kid = keyOf(RK1_SECRET_B, CONFIG).kid;
  const r = await db.execute('SELECT count(*) FROM data_sources WHERE options LIKE :p', {
    p: `rk1:${kid}:%`,
  });
  return Number(r.rows[0]?.[0]);
}

describe('re-encryption overlaps reads, crypto and writes', () => {
  it('reads the next page before this page is written, and keeps one write in flight at a time', async () => {
    const db = await world();
    const { runner, events } = recording(db);
    const clock = fakeClock();
    await reencrypt(PLAN, {
      db: runner,
      clock,
      log: silentLog,
      config: CONFIG,
      deadline: clock.now() + 900_000,
    });
    assert.equal(await rowsUnderB(db), 7);
    assert.equal(events.filter((e) => e === 'write start').length, 4);
    let reads = 0;
    let writes = 0;
    let overlapped = false;
    for (const event of events) {
      if (event === 'read start') reads++;
      if (event === 'read end') reads--;
      if (event === 'write start') writes++;
      if (event === 'write end') writes--;
      assert.ok(writes <= 1, `at most one write in flight: ${events.join(', ')}`);
      if (reads > 0 && writes > 0) overlapped = true;
    }
    assert.ok(overlapped, `a read ran while a write was in flight: ${events.join(', ')}`);
    const secondRead = events.indexOf('read start', events.indexOf('read start') + 1);
    assert.ok(
      secondRead < events.indexOf('write start'),
      `page 2 was read before page 1 was written: ${events.join(', ')}`,
    );
  });

  it('stops at the first failed write with its error, and sends no write after it', async () => {
    const db = await world();
    const { runner, events } = recording(db, { failWrite: 2 });
    const clock = fakeClock();
    await assert.rejects(
      reencrypt(PLAN, { db: runner, clock, log: silentLog, config: CONFIG, deadline: clock.now() + 900_000 }),
      { name: 'ForbiddenException' },
    );
    assert.equal(events.filter((e) => e === 'write start').length, 2);
    assert.equal(await rowsUnderB(db), 2, 'the first page stays written');
  });

  it('finishes the write in flight before it stops at the deadline', async () => {
    const db = await world();
    const clock = fakeClock();
    const { runner, events } = recording(db);
    // The deadline passes while the second page is handled: the pass must stop, but only once that
    // page's write has ended.
    let pages = 0;
    const ticking: SqlRunner = {
      ...runner,
      async execute(sql, params) {
        const result = await runner.execute(sql, params);
        if (sql.startsWith('UPDATE') && ++pages === 2) clock.advance(900_000);
        return result;
      },
    };
    const rejected = await reencrypt(PLAN, {
      db: ticking,
      clock,
      log: silentLog,
      config: CONFIG,
      deadline: clock.now() + 900_000,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(rejected instanceof NotFinishedError, `stopped with NotFinishedError, got ${String(rejected)}`);
    assert.equal(
      events.filter((e) => e === 'write start').length,
      events.filter((e) => e === 'write end').length,
    );
    const written = await rowsUnderB(db);
    assert.ok(written >= 4 && written < 7, `the written pages stay written (${written} rows)`);
  });

  it("holds setSecret's rewrite to maxRowsPerSecond, and not testSecret's full read, which does not resume", async () => {
    const db = await world();
    const config = { ...CONFIG, pacing: { ...CONFIG.pacing, maxRowsPerSecond: 2 } };
    const setClock = fakeClock();
    const set = { db, clock: setClock, log: silentLog, config, deadline: setClock.now() + 900_000 };
    await reencrypt(PLAN, set);
    assert.equal(await rowsUnderB(db), 7);
    // Four pages of at most two rows at two rows a second: about three seconds waited in all.
    const waited = setClock.slept.reduce((sum, ms) => sum + ms, 0);
    assert.ok(waited >= 2_500, `setSecret waited ${waited} ms`);
    const testClock = fakeClock();
    const test = { db, clock: testClock, log: silentLog, config, deadline: testClock.now() + 900_000 };
    const verified = await verifyAll({ target: RK1_SECRET_B, sources: [RK1_SECRET_A] }, test);
    assert.ok(verified.length > 0);
    assert.deepEqual(testClock.slept, []);
  });
});
