import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLog, silentLog } from '../../lambda/log.js';
import type { Log, ProgressSink, SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import type { RotationStep } from '../../lambda/rotation-event.js';
import { runStep } from '../../lambda/steps.js';
import { fakeClock } from '../support/fake-clock.js';
import { keyOf, RK1_SECRET_A, RK1_SECRET_B, rk1Config, SECRET_ARN, seedRk1 } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';
const CALL_MS = 100;

/**
 * Counts round trips in a row: each statement is one deeper than the deepest that had answered when it
 * was sent. With every call as slow as the Data API's (100-250 ms), a step lasts about that many calls,
 * however many statements run side by side.
 */
function roundTrips(inner: SqlRunner, clock: ReturnType<typeof fakeClock>) {
  const state = { answered: 0, deepest: 0, statements: 0, peakInFlight: 0 };
  let inFlight = 0;
  const runner: SqlRunner = {
    ...inner,
    async execute(sql: string, params?: Readonly<Record<string, SqlValue>>, options?): Promise<SqlResult> {
      const depth = state.answered + 1;
      state.deepest = Math.max(state.deepest, depth);
      state.statements++;
      state.peakInFlight = Math.max(state.peakInFlight, ++inFlight);
      try {
        // A real wait, so that statements sent together are in flight together; on the fake clock, a
        // call of 100 ms, so that the passes choose the streams they would at that latency.
        clock.advance(CALL_MS);
        await new Promise((resolve) => setTimeout(resolve, 2));
        return await inner.execute(sql, params, options);
      } finally {
        inFlight--;
        state.answered = Math.max(state.answered, depth);
      }
    },
  };
  return { runner, state };
}

async function rotationAt(
  pacing?: { maxConcurrentStatements: number },
  paging?: { maxRows: number; maxBytes: number; streams?: number },
  rows = 12,
) {
  const config = rk1Config({
    ...(pacing ? { pacing: { ...rk1Config().pacing, ...pacing } } : {}),
    ...(paging ? { paging } : {}),
  });
  const db = await pgliteRunner();
  await seedRk1(db, config, RK1_SECRET_A, rows);
  // Unlisted columns the census of the database checks (one statement or more each).
  for (const name of ['notes', 'drafts', 'labels', 'remarks'])
    await db.execute(`CREATE TABLE ${name} (id bigint PRIMARY KEY, body text, extra text)`);
  const secrets = new MemorySecrets(SECRET_ARN);
  secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
  secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
  const clock = fakeClock();
  const step = (name: RotationStep, runner: SqlRunner, log: Log = silentLog, progress?: ProgressSink) =>
    runStep(
      { Step: name, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
      {
        secrets,
        db: runner,
        clock,
        log,
        config,
        deadline: clock.now() + 15 * 60_000,
        ...(progress && { progress }),
      },
    );
  return { db, step, clock };
}

describe('round trips in a row', () => {
  it('testSecret overlaps its census, catch-up and the full read’s counts: a few calls in a row, not one per statement', async () => {
    // Enough statements at once that the pacer does not bound the overlap (at 4, the default, 28
    // statements take at least 7 round trips).
    const w = await rotationAt({ maxConcurrentStatements: 16 });
    await w.step('setSecret', w.db);
    const { runner, state } = roundTrips(w.db, w.clock);
    await w.step('testSecret', runner);
    // Three tables, four columns, eight unlisted columns: 28 statements. In a row: the table lookups,
    // the key-id counts, the full read's pages, its counts after (the census, the full read's counts
    // before, and the catch-up that had nothing to move, beside them). Before they overlapped: 42
    // statements, all in a row.
    assert.ok(state.statements >= 20, `statements: ${state.statements}`);
    assert.ok(state.deepest <= 4, `round trips in a row: ${state.deepest} of ${state.statements} statements`);
  });

  it('testSecret splits a column of a few pages into one-page ranges beside its count, not a round trip later', async () => {
    // Twelve-row pages: each column of 40 rows takes four, and sixteen streams read them all at once.
    const w = await rotationAt(
      { maxConcurrentStatements: 32 },
      { maxRows: 12, maxBytes: 512 * 1024, streams: 16 },
      40,
    );
    await w.step('setSecret', w.db);
    const { runner, state } = roundTrips(w.db, w.clock);
    await w.step('testSecret', runner);
    // The lookups; the counts, the pages' ends, the key-id counts and the census; every range's one
    // page; the counts after. With the boundaries asked for once the counts were in: five.
    assert.ok(state.deepest <= 4, `round trips in a row: ${state.deepest} of ${state.statements} statements`);
  });

  it('keeps the passes testSecret runs side by side within pacing.maxConcurrentStatements together', async () => {
    const w = await rotationAt({ maxConcurrentStatements: 2 });
    await w.step('setSecret', w.db);
    const { runner, state } = roundTrips(w.db, w.clock);
    await w.step('testSecret', runner);
    assert.ok(state.peakInFlight <= 2, `statements at once: ${state.peakInFlight}`);
    assert.equal(state.peakInFlight, 2);
  });

  it('testSecret stops its full read once the census of the database has failed it', async () => {
    // Two-row pages: the full read of the four columns takes dozens of pages.
    const w = await rotationAt(undefined, { maxRows: 2, maxBytes: 512 * 1024 });
    await w.step('setSecret', w.db);
    let pages = 0;
    const { runner } = roundTrips(
      {
        ...w.db,
        execute: (sql, params, options) => {
          if (sql.includes(' AS v FROM ') && !sql.includes('SUBSTRING')) pages++;
          return w.db.execute(sql, params, options);
        },
      },
      w.clock,
    );
    await w.step('testSecret', runner);
    const whole = pages;
    pages = 0;
    // Ciphertext under the pending key in a column the config does not list.
    await w.db.execute('CREATE TABLE leaks (id bigint PRIMARY KEY, body text)');
    await w.db.execute('INSERT INTO leaks VALUES (1, :v)', {
      v: `rk1:${keyOf(RK1_SECRET_B, rk1Config()).kid}:${'A'.repeat(44)}`,
    });
    await assert.rejects(w.step('testSecret', runner), { name: 'UnlistedCiphertextError' });
    // Without the abort it reads all of them; how many it reads before depends on how soon the census's
    // statements get their turn among the pass's (four at once, the default).
    assert.ok(pages < (whole * 2) / 3, `pages of the full read: ${pages} of ${whole}`);
  });

  it('testSecret counts a column again once its last page is read, not after that page is checked', async () => {
    const w = await rotationAt();
    await w.step('setSecret', w.db);
    // In order: each column's counts (its name is the first OCTET_LENGTH's argument) and its pages
    // checked (progress comes after a page's values were opened).
    const events: string[] = [];
    const runner: SqlRunner = {
      ...w.db,
      execute: (sql, params, options) => {
        const counted = /^SELECT COUNT\(\*\), COALESCE\(MAX\(OCTET_LENGTH\("([^"]+)"\)\)/.exec(sql);
        if (counted) events.push(`count ${counted[1]}`);
        return w.db.execute(sql, params, options);
      },
    };
    await w.step('testSecret', runner, silentLog, (e) => events.push(`checked ${e.column}`));
    for (const column of ['options', 'extra', 'value', 'destination']) {
      const lastCount = events.lastIndexOf(`count ${column}`);
      const lastChecked = events.lastIndexOf(`checked ${column}`);
      assert.ok(events.indexOf(`count ${column}`) < lastCount, `${column} is counted before and after`);
      // Sent while the page's values were still to be opened: at 100-250 ms a call, the count then
      // overlaps the work instead of following it.
      assert.ok(lastCount < lastChecked, `${column}: ${events.join(', ')}`);
    }
  });

  it('chooses streams by the lookups’ round trip, not by counts that scan whole columns', async () => {
    // Fast calls (1 ms), and counts as slow as a large table's: one stream, as at 0 ms.
    const w = await rotationAt();
    const runner: SqlRunner = {
      ...w.db,
      execute: (sql, params, options) => {
        w.clock.advance(sql.startsWith('SELECT COUNT(*)') ? 200 : 1);
        return w.db.execute(sql, params, options);
      },
    };
    const log = memoryLog();
    await w.step('setSecret', runner, log);
    assert.deepEqual(
      log.entries.filter((e) => e.message === 'streams'),
      [],
    );
  });

  it('setSecret looks each table up once, not once per pass', async () => {
    const w = await rotationAt();
    const lookups: string[] = [];
    const runner: SqlRunner = {
      ...w.db,
      execute: (sql, params, options) => {
        if (sql.includes('information_schema.columns') && params?.table) lookups.push(String(params.table));
        return w.db.execute(sql, params, options);
      },
    };
    await w.step('setSecret', runner);
    assert.deepEqual(lookups.sort(), ['alerts', 'data_sources', 'tokens']);
  });
});
