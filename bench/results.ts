import type { BaselineMeasure } from './baseline-run.js';
import type { LambdaBundle } from './build.js';
import type { ColdStart } from './cold-start.js';
import type { DecryptRate } from './decrypt-rate.js';
import type { BenchEngine } from './options.js';
import type { RotationMeasure, StepMeasure } from './rotation-run.js';
import type { SeedReport } from './seed.js';

/** One step of one run, reduced to the numbers the report shows. */
export interface StepSummary {
  /** The handler call, as the step's process timed it. */
  readonly ms: number;
  readonly rowsPerSec: number;
  readonly calls: number;
  readonly callsPer1kRows: number;
  /** Request bytes the Lambda sent to the Data API (headers and bodies). */
  readonly bytesSent: number;
  /** Response bytes it received. */
  readonly bytesReceived: number;
  readonly peakRssKb: number;
  readonly lambdaCpuMs: number;
  readonly serverCpuMs: number;
  readonly postgresCpuMs: number;
  /** Direct runs: statements sent over the connection. */
  readonly statements?: number;
}

/** One rotation of one size: through the Data API (`rekey`) or over a direct connection (`direct`). */
export interface RunResult {
  readonly kind: 'rekey' | 'direct';
  readonly engine: BenchEngine;
  readonly rows: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly rowsLeft: number;
  /** Restoring or seeding the table before the run (not part of any timing). */
  readonly prepareMs: number;
  /** The machine's 1-minute load average when the run started (others' work skews the timings). */
  readonly loadAverage: number;
  readonly setSecret?: StepSummary;
  readonly testSecret?: StepSummary;
  /** Module load in the step process (the bundle is already parsed by then). */
  readonly importMs?: number;
  readonly raw: RotationMeasure;
}

/** A target of the issue, as measured. */
export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | 'not measured';
}

/** Everything one `npm run bench` measured. */
export interface BenchResults {
  readonly date: string;
  readonly command: string;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly options: Readonly<Record<string, unknown>>;
  readonly seed?: SeedReport;
  readonly runs: RunResult[];
  readonly baseline: BaselineMeasure[];
  readonly bundle?: LambdaBundle;
  readonly coldStart?: ColdStart;
  readonly decrypt?: DecryptRate;
  readonly targets: TargetResult[];
  readonly totalMs: number;
}

/** The step's numbers per row count. */
export function summarize(step: StepMeasure | undefined, rows: number): StepSummary | undefined {
  if (!step) return undefined;
  const calls = step.dataApi.calls;
  return {
    ms: step.handlerMs,
    rowsPerSec: rows / (step.handlerMs / 1000),
    calls,
    callsPer1kRows: (calls * 1000) / rows,
    bytesSent: step.dataApi.bytesIn,
    bytesReceived: step.dataApi.bytesOut,
    peakRssKb: step.maxRssKb,
    lambdaCpuMs: step.userCpuMs + step.systemCpuMs,
    serverCpuMs: step.serverCpuMs,
    // A direct run's backend ends with its process, before the parent's reading: it reports its own.
    postgresCpuMs: step.backendCpuMs ?? step.postgresCpuMs,
    ...(step.statements === undefined ? {} : { statements: step.statements }),
  };
}

/** The four targets, judged on the runs that measure them. */
export function judgeTargets(runs: readonly RunResult[], headlineLatency: number): TargetResult[] {
  const ok = runs.filter((r) => r.ok && r.setSecret);
  const rekey = (engine: BenchEngine, latency: number) =>
    ok.filter((r) => r.kind === 'rekey' && r.engine === engine && r.latencyMs === latency);
  const headline = rekey('postgres', headlineLatency);
  const targets: TargetResult[] = [];

  const worstCalls = headline.reduce((m, r) => Math.max(m, r.setSecret?.callsPer1kRows ?? 0), 0);
  targets.push({
    target: 'at most 3 Data API calls per 1,000 rows (setSecret)',
    measured: headline.length ? `${worstCalls.toFixed(2)} (worst over ${headline.length} sizes)` : '-',
    met: headline.length ? worstCalls <= 3 : 'not measured',
  });

  const million = rekey('postgres', 10).find((r) => r.rows === 1_000_000);
  targets.push({
    target: '1M rows re-encrypted in under 120 s at 10 ms per call',
    measured: million?.setSecret ? `${(million.setSecret.ms / 1000).toFixed(1)} s` : '-',
    met: million?.setSecret ? million.setSecret.ms < 120_000 : 'not measured',
  });

  const zero = rekey('postgres', 0);
  const pairs = zero.flatMap((z) => {
    const d = ok.find((r) => r.kind === 'direct' && r.rows === z.rows);
    return d?.setSecret && z.setSecret
      ? [{ rows: z.rows, ratio: z.setSecret.rowsPerSec / d.setSecret.rowsPerSec }]
      : [];
  });
  const worstRatio = pairs.reduce((m, p) => Math.min(m, p.ratio), Number.POSITIVE_INFINITY);
  targets.push({
    target: 'throughput at 0 ms at least half the direct-SQL limit',
    measured: pairs.length
      ? pairs.map((p) => `${formatRows(p.rows)}: ${(p.ratio * 100).toFixed(0)}%`).join(', ')
      : '-',
    met: pairs.length ? worstRatio >= 0.5 : 'not measured',
  });

  // Every rekey run on PostgreSQL, at any latency: the Lambda's memory must not depend on either.
  const all = ok.filter((r) => r.kind === 'rekey' && r.engine === 'postgres');
  const rss = all.map((r) => r.setSecret?.peakRssKb ?? 0);
  const sizes = all.map((r) => r.rows);
  targets.push({
    target: 'peak RSS flat (within 20%) from 10k to 1M rows',
    measured:
      new Set(sizes).size > 1
        ? `${mib(Math.min(...rss))}-${mib(Math.max(...rss))} MiB over ${formatRows(Math.min(...sizes))}-${formatRows(Math.max(...sizes))} rows (+${((Math.max(...rss) / Math.min(...rss) - 1) * 100).toFixed(0)}%)`
        : '-',
    met: new Set(sizes).size > 1 ? Math.max(...rss) <= Math.min(...rss) * 1.2 : 'not measured',
  });
  return targets;
}

/** 10k, 100k, 1M, 2,500. */
export function formatRows(rows: number): string {
  if (rows >= 1e6 && rows % 1e6 === 0) return `${rows / 1e6}M`;
  if (rows >= 1e3 && rows % 1e3 === 0) return `${rows / 1e3}k`;
  return rows.toLocaleString('en-US');
}

/** KiB to MiB, one decimal. */
export function mib(kb: number): string {
  return (kb / 1024).toFixed(1);
}
