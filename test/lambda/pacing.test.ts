import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pacer, pacedRunner, type StatementKind, statementKind } from '../../lambda/passes/pacing.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { fakeClock } from '../support/fake-clock.js';

const SETTINGS = { maxConcurrentStatements: 4, backoffLatencyFactor: 2 };
const PAGE_READ =
  'SELECT CAST("id" AS text) AS i, "v" AS v FROM "t" WHERE "v" IS NOT NULL ORDER BY "id" LIMIT 10';

/** A runner whose statements stay in flight until released, counting how many are at once. */
function heldRunner() {
  const held: (() => void)[] = [];
  const state = { inFlight: 0, peak: 0, sent: 0 };
  const runner: SqlRunner = {
    dialect: 'postgres',
    async execute() {
      state.sent++;
      state.inFlight++;
      state.peak = Math.max(state.peak, state.inFlight);
      await new Promise<void>((resolve) => held.push(resolve));
      state.inFlight--;
      return { rows: [], updated: 0 };
    },
    begin: async () => 'tx',
    commit: async () => {},
    rollback: async () => {},
  };
  const releaseAll = async () => {
    while (held.length > 0 || state.inFlight > 0) {
      for (const release of held.splice(0)) release();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { runner, state, releaseAll };
}

/** Runs `n` page reads one after another, each taking `ms` on the fake clock. */
async function reads(
  pacer: Pacer,
  clock: ReturnType<typeof fakeClock>,
  n: number,
  ms: number,
): Promise<void> {
  for (let i = 0; i < n; i++)
    await pacer.run('read', async () => {
      clock.advance(ms);
    });
}

/** Runs one statement of `kind` that the Data API throttles, and checks the error comes through. */
async function throttled(pacer: Pacer, kind: StatementKind): Promise<void> {
  await assert.rejects(
    pacer.run(kind, async () => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    }),
    { name: 'ThrottlingException' },
  );
}

describe('pacing', () => {
  it('never has more statements in flight than maxConcurrentStatements, across all callers', async () => {
    const { runner, state, releaseAll } = heldRunner();
    const clock = fakeClock();
    const paced = pacedRunner(runner, new Pacer({ ...SETTINGS, maxConcurrentStatements: 3 }, clock));
    const all = Promise.all(Array.from({ length: 10 }, () => paced.execute(PAGE_READ)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(state.inFlight, 3, 'three sent, the rest wait');
    await releaseAll();
    await all;
    assert.equal(state.sent, 10);
    assert.equal(state.peak, 3);
  });

  it('sends statements side by side up to the limit', async () => {
    const { runner, state, releaseAll } = heldRunner();
    const paced = pacedRunner(runner, new Pacer({ ...SETTINGS, maxConcurrentStatements: 8 }, fakeClock()));
    const all = Promise.all(Array.from({ length: 5 }, () => paced.execute(PAGE_READ)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(state.inFlight, 5);
    await releaseAll();
    await all;
  });

  it("takes the Data API's ordinary spread (p50 100 ms, p90 270 ms) for what it is, not for strain", async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    // Log-normal latencies with that median and p90, from a fixed sequence (Box-Muller over an LCG).
    let seed = 42;
    const uniform = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed + 1) / (2 ** 31 + 1);
    };
    const sigma = Math.log(2.7) / 1.2816;
    let lowest = pacer.limit;
    for (let i = 0; i < 2000; i++) {
      const normal = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      const ms = Math.round(100 * Math.exp(sigma * normal));
      await pacer.run('read', async () => {
        clock.advance(ms);
      });
      lowest = Math.min(lowest, pacer.limit);
    }
    assert.equal(lowest, SETTINGS.maxConcurrentStatements, 'never backed off');
    assert.equal(pacer.pause, 0);
  });

  it('halves the statements at once when latency rises well above its baseline, then pauses, then recovers', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    await reads(pacer, clock, 40, 100);
    assert.equal(pacer.limit, 4, 'a steady latency changes nothing');
    assert.equal(pacer.pause, 0);
    await reads(pacer, clock, 12, 400);
    assert.equal(pacer.limit, 4, 'a dozen slow statements are a minority of the recent ones');
    await reads(pacer, clock, 8, 400);
    assert.ok(pacer.limit < 4, `fewer statements at once once most are slow (limit ${pacer.limit})`);
    await reads(pacer, clock, 60, 400);
    assert.equal(pacer.limit, 1);
    assert.ok(pacer.pause > 0, 'then a pause before each statement');
    assert.ok(clock.slept.length > 0);
    await reads(pacer, clock, 300, 100);
    assert.equal(pacer.pause, 0, 'the pause ends once latency is back');
    assert.equal(pacer.limit, 4, 'and the statements at once come back one by one');
  });

  it('does not back off on latency that only drifts, nor on statements other than pages', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    for (let ms = 100; ms < 150; ms++) await reads(pacer, clock, 1, ms);
    for (let i = 0; i < 20; i++)
      await pacer.run('other', async () => {
        clock.advance(5_000);
      });
    assert.equal(pacer.limit, 4);
    assert.equal(pacer.pause, 0);
  });

  it('recovers from a pressure error early in a pass, before it knows the latency', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    await throttled(pacer, 'write');
    assert.ok(pacer.pause > 0);
    await reads(pacer, clock, 10, 100);
    assert.equal(pacer.pause, 0, 'the pause ends after a few statements that succeed');
    await reads(pacer, clock, 10, 100);
    assert.equal(pacer.limit, 4);
  });

  it('ends a pressure pause on catalog statements that succeed, as a census without pages sends', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    await throttled(pacer, 'other');
    assert.ok(pacer.pause > 0);
    for (let i = 0; i < 10; i++) await pacer.run('other', async () => clock.advance(5));
    assert.equal(pacer.pause, 0, 'the pause ends after a few catalog statements that succeed');
    assert.equal(pacer.limit, 1, 'only pages, whose latency is known, earn the statements at once back');
    await reads(pacer, clock, 10, 100);
    assert.equal(pacer.limit, 4);
  });

  it('drops to one statement and pauses when the database reports pressure', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(SETTINGS, clock);
    await throttled(pacer, 'write');
    assert.equal(pacer.limit, 1);
    assert.ok(pacer.pause >= 100);
    await assert.rejects(
      pacer.run('write', async () => {
        throw Object.assign(new Error('denied'), { name: 'ForbiddenException' });
      }),
    );
    assert.ok(pacer.pause >= 100, 'an error that says nothing of load changes nothing more');
  });

  it('spaces out rows to maxRowsPerSecond', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ...SETTINGS, maxRowsPerSecond: 1000 }, clock);
    await pacer.admitRows(500);
    await pacer.admitRows(500);
    await pacer.admitRows(500);
    assert.deepEqual(clock.slept, [500, 500]);
    const unbounded = new Pacer(SETTINGS, clock);
    await unbounded.admitRows(1_000_000);
    assert.deepEqual(clock.slept, [500, 500]);
  });

  it('tells page reads and writes from other statements', () => {
    assert.equal(statementKind(PAGE_READ), 'read');
    assert.equal(statementKind('UPDATE "t" AS t SET "v" = v.n FROM unnest(...)'), 'write');
    assert.equal(statementKind('SELECT COUNT(*), COALESCE(MAX(OCTET_LENGTH("v")), 0) FROM "t"'), 'other');
  });
});
