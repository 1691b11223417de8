import { seededRandom } from '../seeded-random.js';
/**
 * A per-call latency for the local Data API: a constant, a spread drawn from a seeded log-normal
 * distribution, or any function. Real Data API calls do not take a constant time: published
 * measurements of a Lambda calling it on Aurora Serverless v2 put a small call at about 100 ms at the
 * median and 270 ms at p90, and a long right tail like that is what a log-normal gives.
 */

/** A latency spread: the median and the 90th percentile in ms, drawn from a log-normal with those two. */
export interface LatencySpread {
  readonly p50: number;
  readonly p90: number;
  /** Seeds the draws, so two runs with the same seed wait the same sequence. @default 1 */
  readonly seed?: number;
}

/** What the local Data API's latency option takes: ms per call, a spread, or a function drawing each call's ms. */
export type LatencySpec = number | LatencySpread | (() => number);

/** z of the standard normal's 90th percentile: p90 = p50 * exp(Z90 * sigma) for a log-normal. */
const Z90 = 1.2815515655446004;

/**
 * A function returning each call's latency in ms. A function spec is wrapped so that a draw that is
 * negative or not finite throws instead of turning into a timer of NaN.
 * @throws RangeError for a negative or non-finite constant, or a spread whose p50 is not positive or
 * whose p90 is below its p50.
 */
export function latencySampler(spec: LatencySpec): () => number {
  if (typeof spec === 'number') {
    const ms = checkMs('latencyMs', spec);
    return () => ms;
  }
  if (typeof spec === 'function') return () => checkMs('latencyMs() draw', spec());
  const { p50, p90 } = spec;
  if (!Number.isFinite(p50) || p50 <= 0)
    throw new RangeError(`latencyMs.p50 must be a positive number, got ${p50}`);
  if (!Number.isFinite(p90) || p90 < p50)
    throw new RangeError(`latencyMs.p90 must be a number at least p50 (${p50}), got ${p90}`);
  const mu = Math.log(p50);
  const sigma = Math.log(p90 / p50) / Z90;
  const uniform = seededRandom(spec.seed ?? 1);
  return () => Math.exp(mu + sigma * standardNormal(uniform));
}

/** The spread's median when it has one, else the constant; a function gives `undefined`. */
export function latencyMedian(spec: LatencySpec): number | undefined {
  if (typeof spec === 'number') return spec;
  if (typeof spec === 'function') return undefined;
  return spec.p50;
}

function checkMs(name: string, ms: number): number {
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${name} must be a non-negative number, got ${ms}`);
  return ms;
}

/** Box-Muller over (0, 1]: never log(0). */
function standardNormal(uniform: () => number): number {
  const u = 1 - uniform();
  const v = uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
