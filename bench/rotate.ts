/**
 * One benchmark rotation as a results row: the table prepared, the rotation measured
 * (rotation-run.ts) at a latency and pacing, its steps summarised, and a progress line printed.
 */
import { loadavg } from 'node:os';
import { type BenchLatency, latencySpec } from './latency-option.js';
import type { BenchEngine } from './options.js';
import {
  cpuPer1k,
  formatRows,
  latencyLabel,
  type PacingResult,
  type RunResult,
  summarize,
} from './results.js';
import { measureRotation, type RotationRunOptions } from './rotation-run.js';

/** What every rotation of one benchmark run shares. */
export interface RotationRunnerOptions {
  readonly latencySeed: number;
  readonly pageRows: number | undefined;
  readonly pageBytes: number | undefined;
  readonly streams: number | undefined;
  /** The step processes' settings (the deployed function's, or --node-options). */
  readonly processEnv: Readonly<Record<string, string>>;
  readonly profile: RotationRunOptions['profile'];
  readonly say: (line: string) => void;
}

/** Runs one rotation; `prepare` restores or seeds the table and says how long it took. */
export type Rotate = (
  kind: RunResult['kind'],
  engine: BenchEngine,
  rows: number,
  latency: BenchLatency,
  prepare: () => Promise<number>,
  run: Omit<RotationRunOptions, 'latency' | 'pageRows' | 'pageBytes' | 'streams' | 'profile'>,
) => Promise<RunResult>;

/** A {@link Rotate} with the run's shared settings. */
export function rotationRunner(shared: RotationRunnerOptions): Rotate {
  return async (kind, engine, rows, latency, prepare, run) => {
    const prepareMs = await prepare();
    const loadAverage = loadavg()[0] ?? 0;
    const raw = await measureRotation({
      ...run,
      latency: latencySpec(latency, shared.latencySeed),
      pageRows: shared.pageRows,
      pageBytes: shared.pageBytes,
      streams: shared.streams,
      env: { ...run.env, ...shared.processEnv },
      profile: shared.profile,
    });
    const result: RunResult = {
      kind,
      engine,
      rows,
      latencyMs: latency.p50Ms,
      latency,
      pacing: raw.pacing,
      ok: raw.ok && raw.rowsLeft === 0,
      ...(raw.failure
        ? { failure: raw.failure }
        : raw.rowsLeft
          ? { failure: `${raw.rowsLeft} rows left` }
          : {}),
      rowsLeft: raw.rowsLeft,
      prepareMs,
      loadAverage,
      setSecret: summarize(raw.steps.setSecret, rows),
      testSecret: summarize(raw.steps.testSecret, rows),
      importMs: raw.steps.setSecret?.importMs,
      raw,
    };
    shared.say(describeRun(result));
    return result;
  };
}

/** One progress line for a rotation. */
export function describeRun(r: RunResult): string {
  const paced = r.pacing && r.pacing.name !== 'default' ? `, pacing ${r.pacing.name}` : '';
  const head = `${formatRows(r.rows)} ${r.kind} on ${r.engine}${r.kind === 'rekey' ? ` at ${latencyLabel(r)}` : ''}${paced}`;
  const s = r.setSecret;
  if (!r.ok || !s) return `${head}: FAILED ${r.failure ?? ''}`;
  const t = r.testSecret;
  const setRounds = s.rounds
    ? `, ${s.rounds.rounds} rounds (${s.rounds.beforeFirstPage} before the first page)`
    : '';
  const testRounds = t?.rounds ? `, ${t.rounds.rounds} rounds` : '';
  return (
    `${head} (load ${r.loadAverage.toFixed(1)}): setSecret ${(s.ms / 1000).toFixed(1)} s, ${s.rowsPerSec.toFixed(0)} rows/s, ` +
    `CPU ${cpuPer1k(s).toFixed(1)} ms/1k, ${s.callsPer1kRows.toFixed(2)} calls/1k${setRounds}, peak RSS ${(s.peakRssKb / 1024).toFixed(0)} MiB` +
    (t
      ? `; testSecret ${(t.ms / 1000).toFixed(1)} s (${(t.ms / s.ms).toFixed(2)} of setSecret${testRounds})`
      : '') +
    (r.pacing && !r.pacing.applied ? `; pacing NOT applied: ${r.pacing.refused ?? ''}` : '')
  );
}

/** One progress line for an app-latency run. */
export function describePacing(r: PacingResult): string {
  const f = (n: number) => n.toFixed(1);
  return `app beside the ${r.run.pacing?.name ?? 'default'} pacing: p50/p99 ${f(r.quiet.p50Ms)}/${f(r.quiet.p99Ms)} ms alone, ${f(r.duringSetSecret.p50Ms)}/${f(r.duringSetSecret.p99Ms)} ms during setSecret (${r.duringSetSecret.queries} queries, ${r.appErrors} errors)`;
}
