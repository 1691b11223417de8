import type { LatencySpec } from '../local/rds-data.js';

/** One per-call latency the benchmark runs at: a constant, or a spread with a median and a p90. */
export interface BenchLatency {
  /** How tables name it: `100 ms`, or `100 ms (p90 270)`. */
  readonly label: string;
  /** The constant, or the spread's median. */
  readonly p50Ms: number;
  /** Only for a spread. */
  readonly p90Ms?: number;
}

/**
 * One `--latency` entry: `100` (ms per call), or a spread `100p50/270p90` (also `100/270`), drawn per
 * call from a log-normal with that median and p90.
 * @throws RangeError naming the flag and the value.
 */
export function parseLatency(value: string): BenchLatency {
  const text = value.trim();
  const spread = /^(\d+(?:\.\d+)?)(?:p50)?\/(\d+(?:\.\d+)?)(?:p90)?$/i.exec(text);
  if (spread) {
    const p50 = Number(spread[1]);
    const p90 = Number(spread[2]);
    if (!(p50 > 0 && p50 <= 10_000 && p90 >= p50 && p90 <= 10_000))
      throw new RangeError(
        `--latency takes a spread as P50p50/P90p90 with 0 < P50 <= P90 <= 10000, got '${value}'`,
      );
    return { label: `${p50} ms (p90 ${p90})`, p50Ms: p50, p90Ms: p90 };
  }
  const ms = Number(text);
  if (text === '' || !Number.isFinite(ms) || ms < 0 || ms > 10_000)
    throw new RangeError(
      `--latency takes ms per call from 0 to 10000 or a spread like 100p50/270p90, got '${value}'`,
    );
  return { label: `${ms} ms`, p50Ms: ms };
}

/** What the local Data API is given: the constant, or the spread seeded so runs repeat. */
export function latencySpec(latency: BenchLatency, seed: number): LatencySpec {
  return latency.p90Ms === undefined ? latency.p50Ms : { p50: latency.p50Ms, p90: latency.p90Ms, seed };
}

/** Whether a run's latency is this one (runs from results files older than spreads carry only ms). */
export function sameLatency(a: BenchLatency, b: BenchLatency): boolean {
  return a.p50Ms === b.p50Ms && a.p90Ms === b.p90Ms;
}

/** A constant latency of `ms`, as older results files and the direct runs have it. */
export function constantLatency(ms: number): BenchLatency {
  return { label: `${ms} ms`, p50Ms: ms };
}
