import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appLatency } from '../../bench/app-loop.js';
import { parseLatency } from '../../bench/latency-option.js';
import { toMarkdown } from '../../bench/markdown.js';
import {
  type BenchResults,
  judgeTargets,
  memoryAdvice,
  type PacingResult,
  type RunResult,
  summarize,
} from '../../bench/results.js';
import type { StepMeasure } from '../../bench/rotation-run.js';
import { emptyStats } from '../../local/rds-data/http.js';

/** A step that handled `rows` in `ms` with `cpuMs` of CPU and `calls` Data API calls. */
function step(name: string, rows: number, ms: number, cpuMs: number, calls: number): StepMeasure {
  return {
    step: name,
    ok: true,
    importMs: 50,
    handlerMs: ms,
    handlerStartedAt: 1_000,
    handlerEndedAt: 1_000 + ms,
    maxRssKb: 90 * 1024,
    heap: { totalKb: 0, usedKb: 0, externalKb: 0 },
    userCpuMs: cpuMs,
    systemCpuMs: 0,
    processMs: ms + 100,
    dataApi: { ...emptyStats(), calls, bytesIn: rows * 400, bytesOut: rows * 200 },
    latencyWaitedMs: calls * 100,
    rounds: { calls, rounds: calls, beforeFirstPage: 2, mostInFlight: 1 },
    serverCpuMs: 0,
    postgresCpuMs: 0,
  };
}

function run(
  kind: RunResult['kind'],
  rows: number,
  latency: string,
  setMs: number,
  testMs: number,
): RunResult {
  const l = parseLatency(latency);
  const set = step('setSecret', rows, setMs, rows * 0.015, rows / 500);
  const test = step('testSecret', rows, testMs, rows * 0.008, rows / 1000);
  return {
    kind,
    engine: 'postgres',
    rows,
    latencyMs: l.p50Ms,
    latency: l,
    pacing: { name: 'default', applied: true },
    ok: true,
    rowsLeft: 0,
    prepareMs: 0,
    loadAverage: 0.5,
    setSecret: summarize(set, rows),
    testSecret: summarize(test, rows),
    raw: {
      ok: true,
      steps: { setSecret: set, testSecret: test },
      rowsLeft: 0,
      pacing: { name: 'default', applied: true },
    },
  };
}

const runs = [
  run('rekey', 1_000_000, '100', 70_000, 30_000),
  run('rekey', 1_000_000, '250', 95_000, 60_000),
  run('rekey', 1_000_000, '0', 30_000, 10_000),
  run('direct', 1_000_000, '0', 25_000, 8_000),
  run('rekey', 10_000_000, '100', 700_000, 300_000),
];
const pacing: PacingResult = {
  run: run('rekey', 1_000_000, '100', 80_000, 30_000),
  quiet: { queries: 3000, p50Ms: 1, p99Ms: 8, maxMs: 20 },
  quietMs: 15_000,
  duringSetSecret: { queries: 9000, p50Ms: 1.2, p99Ms: 9, maxMs: 30 },
  duringRotation: { queries: 12000, p50Ms: 1.1, p99Ms: 9, maxMs: 30 },
  appClients: 2,
  appErrors: 0,
};

describe('the benchmark report', () => {
  it("judges issue 12's targets on the runs that measure them", () => {
    const targets = judgeTargets(runs, [pacing]);
    const met = (start: string) => targets.find((t) => t.target.startsWith(start))?.met;
    assert.equal(met('setSecret at least 12,000 rows/s at 100 ms'), true); // 14,286 rows/s
    assert.equal(met('setSecret at least 10,000 rows/s at 250 ms'), true); // 10,526 rows/s
    assert.equal(met('10M rows inside one setSecret'), true);
    assert.equal(met('testSecret at most half'), false); // 250 ms: 60/95
    assert.equal(met('Lambda CPU per 1,000 rows'), true); // 15 ms
    assert.equal(met('at 0 ms, at least 0.8'), true); // 25/30 = 0.83
    assert.equal(met('with the default pacing'), true); // 9 against 8
    assert.equal(met('at most 3 Data API calls'), true);
    assert.equal(judgeTargets([])[0]?.met, 'not measured');
  });

  it("judges the app's p99 against the quietest of the run's windows alone, not a noisy one", () => {
    const quieter: PacingResult = {
      ...pacing,
      run: { ...pacing.run, pacing: { name: 'off', applied: true } },
      quiet: { ...pacing.quiet, p99Ms: 4 },
    };
    const target = judgeTargets(runs, [pacing, quieter]).find((t) =>
      t.target.startsWith('with the default pacing'),
    );
    // 9 ms during the default run: 1.13× its own 8 ms alone, 2.25× the other run's 4 ms.
    assert.equal(target?.met, false);
    assert.match(target?.measured ?? '', /2\.25×/);
  });

  it('judges the CPU target against the same run’s crypto floor too, where milliseconds depend on the machine', () => {
    const multiple = (perCpuSec: number) =>
      judgeTargets(runs, [], {
        openSealPerSec: perCpuSec,
        openSealPerCpuSec: perCpuSec,
        plaintextBytes: 103,
      }).find((t) => t.target.startsWith('the same, on this machine'));
    // 15 ms per 1,000 rows at the largest size: 1.34× a floor of 11.2 ms (89k/s), 3.0× one of 5 ms.
    assert.equal(multiple(89_000)?.met, true);
    assert.match(multiple(89_000)?.measured ?? '', /1\.34×/);
    assert.equal(multiple(200_000)?.met, false);
    assert.equal(judgeTargets(runs, []).find((t) => t.target.startsWith('the same'))?.met, 'not measured');
  });

  it('chooses a memory from the headline run at its largest size', () => {
    const advice = memoryAdvice(runs, parseLatency('100'));
    assert.equal(advice?.rows, 10_000_000);
    assert.equal(advice?.latency, '100 ms');
    assert.ok([512, 1024, 1769, 3008].includes(advice?.choice.memoryMb ?? 0));
  });

  it('prints the ceilings, ratios, floors, costs, memory and the app beside the figures', () => {
    const results: BenchResults = {
      date: '2026-12-01T00:00:00.000Z',
      command: 'npm run bench',
      machine: { host: 'test', cpus: 2, cpuModel: 'cpu', memGiB: 4, node: '20', postgres: 'PostgreSQL 15' },
      options: {},
      runs,
      baseline: [],
      floors: {
        crypto: { openSealPerSec: 89_000, plaintextBytes: 103 },
        database: [{ rows: 1_000_000, ms: 4_000, rowsPerSec: 250_000, sql: 'UPDATE t', backendCpuMs: 3_900 }],
      },
      pacing: [pacing],
      memory: memoryAdvice(runs, parseLatency('100')),
      targets: judgeTargets(runs, [pacing]),
      totalMs: 1,
    };
    const md = toMarkdown(results);
    // setSecret 70 s for 1M rows: 14,286 rows/s; CPU 15 ms per 1k rows; testSecret 30 s: 0.43 of it.
    assert.match(
      md,
      /\| rekey \(Data API\) \| postgres \| 1,000,000 \| 100 ms \| 70\.0 s \| 14,286 \| [\d,]+ \| 15\.0 ms \| 30\.0 s \| 33,333 \| [\d,]+ \| 8\.0 ms \| 0\.43 \|/,
    );
    assert.match(md, /\| 1M \| 0 ms \| 33,333 \| 40,000 \| 250,000 \| 89,000 \| 0\.83× \| - \|/);
    assert.match(md, /Recommended memory: \d+ MB/);
    assert.match(
      md,
      /\| default \| 1,000,000 \| 100 ms \| 80\.0 s \| 12,500 \| 1\.0 \/ 8\.0 ms \| 1\.2 \/ 9\.0 ms \| 1\.13× \|/,
    );
    // Calls per million rows: 2,000 for setSecret (one per 500 rows), 1,000 for testSecret.
    assert.match(md, /\| 1M \| 100 ms \| 2,000 \| 1,000 \|/);
  });
});

describe("the app's query latency", () => {
  it('takes the percentiles of the queries that started inside the window', () => {
    const samples = {
      startedAt: Array.from({ length: 200 }, (_, i) => i),
      ms: Array.from({ length: 200 }, (_, i) => (i < 100 ? 1 : i - 99)),
      errors: 0,
    };
    assert.deepEqual(appLatency(samples, 0, 100), { queries: 100, p50Ms: 1, p99Ms: 1, maxMs: 1 });
    const later = appLatency(samples, 100, 200);
    assert.equal(later.queries, 100);
    assert.equal(later.p50Ms, 50);
    assert.equal(later.p99Ms, 99);
    assert.equal(appLatency(samples, 500, 600).queries, 0);
  });
});
