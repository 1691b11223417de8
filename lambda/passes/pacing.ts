import type { RekeyConfig } from '../config.js';
import type { Clock, SqlRunner } from '../ports.js';
import { PRESSURE_ERROR_NAMES } from '../retry.js';

/**
 * Statements of a kind whose median is the recent latency. A median, not an average: one call in ten
 * takes almost three times the median (the Data API's p90), and one such call moved an average of the
 * last eight past the backoff factor.
 */
const RECENT = 31;
/**
 * How fast the baseline follows the short-term average, up and down: slowly both ways, so that it is the
 * long-run latency. Following the lowest average instead made ordinary jitter look like strain: Data API
 * calls spread widely (p90 near 2.7 times the median), and a benchmark run at that spread backed off
 * to less than half the speed of an unpaced one with the database idle.
 */
const BASELINE_UP = 0.01;
const BASELINE_DOWN = 0.05;
/** Statements of a kind seen before its recent median is trusted (and becomes the first baseline). */
const WARM_UP = RECENT;
/** Latency under this multiple of the baseline counts as recovered. */
const RECOVERED_FACTOR = 1.25;
/** The first pause once concurrency is down to one statement, and the longest. */
const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 5_000;

/** What the pacer limits, from `pacing` in the config. */
export type PacingSettings = RekeyConfig['pacing'];

/** Which statements' latencies are compared with each other: a page read with page reads, and so on. */
export type StatementKind = 'read' | 'write' | 'other';

interface LatencyTrack {
  samples: number;
  readonly recent: number[];
  baseline: number;
}

/**
 * Bounds the load a pass puts on the database: at most `limit` statements at once (starting at
 * `maxConcurrentStatements`), at most `maxRowsPerSecond` rows admitted, and backing off when the
 * database shows strain: a statement kind's recent latency `backoffLatencyFactor` times its running
 * baseline, or an error that reports pressure, first halves the statements allowed at once, then (at
 * one) pauses before each statement, doubling the pause while the strain lasts. Recovery undoes one
 * step at a time. Adjusts at most once per `limit` statements, so that one slow answer cannot swing it.
 */
export class Pacer {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private current: number;
  private pauseMs = 0;
  private sinceAdjust = 0;
  private nextAdmitAt = 0;
  private readonly tracks = new Map<StatementKind, LatencyTrack>();
  /** The most statements that were ever in flight at once (for logs and tests). */
  peakInFlight = 0;

  constructor(
    private readonly settings: PacingSettings,
    private readonly clock: Clock,
  ) {
    this.current = settings.maxConcurrentStatements;
  }

  /** Statements allowed at once right now. */
  get limit(): number {
    return this.current;
  }

  /** The pause before each statement right now (0 unless backing off at one statement). */
  get pause(): number {
    return this.pauseMs;
  }

  /**
   * Runs one statement within the limits, timing it for the backoff.
   * @throws whatever `work` throws.
   */
  async run<T>(kind: StatementKind, work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      if (this.pauseMs > 0) await this.clock.sleep(this.pauseMs);
      const started = this.clock.now();
      try {
        const result = await work();
        this.observe(kind, this.clock.now() - started);
        return result;
      } catch (error) {
        if (error instanceof Error && PRESSURE_ERROR_NAMES.has(error.name)) this.underPressure();
        throw error;
      }
    } finally {
      this.release();
    }
  }

  /**
   * Waits until `rows` more rows fit under `maxRowsPerSecond` (each admission books its own slot of
   * time, so streams asking at once are spaced out rather than all let through).
   */
  async admitRows(rows: number): Promise<void> {
    const rate = this.settings.maxRowsPerSecond;
    if (rate === undefined || rows <= 0) return;
    const now = this.clock.now();
    const start = Math.max(now, this.nextAdmitAt);
    this.nextAdmitAt = start + (rows / rate) * 1000;
    if (start > now) await this.clock.sleep(start - now);
  }

  private async acquire(): Promise<void> {
    while (this.inFlight >= this.current) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
  }

  private release(): void {
    this.inFlight--;
    // Wake every waiter: each re-checks the (possibly lowered) limit, and those that do not fit wait again.
    for (const wake of this.waiting.splice(0)) wake();
  }

  private observe(kind: StatementKind, ms: number): void {
    if (kind === 'other') {
      // Catalog lookups and counts: their latency says nothing of pages, but their answering does. A
      // step that meets a pressure error in its census (dozens of such statements, no pages) would
      // otherwise pause before every one of them, the pause doubling on each later fault and never
      // ending: a 10% fault rate made one census wait 35 s.
      // Counted only while pausing, so that without a pressure error pages alone pace the backoff.
      if (this.pauseMs > 0 && ++this.sinceAdjust >= this.current) this.recover();
      return;
    }
    const track = this.tracks.get(kind) ?? { samples: 0, recent: [], baseline: ms };
    this.tracks.set(kind, track);
    track.samples++;
    track.recent.push(ms);
    if (track.recent.length > RECENT) track.recent.shift();
    const recent = median(track.recent);
    if (track.samples <= WARM_UP) track.baseline = recent;
    else
      track.baseline += (recent - track.baseline) * (recent < track.baseline ? BASELINE_DOWN : BASELINE_UP);
    this.sinceAdjust++;
    if (this.sinceAdjust < this.current) return;
    // Until its baseline is known a kind cannot show a rise; its statements succeeding still count
    // for recovery, or a pause set by a pressure error early in a pass would last the whole pass.
    // A baseline of 0 (a clock that does not move) would make any latency a rise: at least 1 ms.
    const ratio = track.samples < WARM_UP ? 1 : recent / Math.max(1, track.baseline);
    if (ratio > this.settings.backoffLatencyFactor) this.backOff();
    else if (ratio < RECOVERED_FACTOR) this.recover();
  }

  private backOff(): void {
    this.sinceAdjust = 0;
    if (this.current > 1) this.current = Math.max(1, Math.floor(this.current / 2));
    else this.pauseMs = Math.min(MAX_PAUSE_MS, Math.max(FIRST_PAUSE_MS, this.pauseMs * 2));
  }

  private recover(): void {
    this.sinceAdjust = 0;
    if (this.pauseMs > 0) this.pauseMs = this.pauseMs >= 2 * FIRST_PAUSE_MS ? this.pauseMs / 2 : 0;
    else if (this.current < this.settings.maxConcurrentStatements) this.current++;
  }

  /** The database said it is strained: straight down to one statement at a time, and a pause. */
  private underPressure(): void {
    this.sinceAdjust = 0;
    this.current = 1;
    this.pauseMs = Math.min(MAX_PAUSE_MS, Math.max(FIRST_PAUSE_MS, this.pauseMs * 2));
  }
}

/**
 * Page reads (`... ORDER BY id LIMIT n`) and compare-and-swap writes (`UPDATE`) as TableSql builds
 * them; every other statement is counted against the limit but not timed for the backoff.
 */
export function statementKind(sql: string): StatementKind {
  if (sql.startsWith('UPDATE')) return 'write';
  if (sql.startsWith('SELECT') && sql.includes(' AS v FROM ')) return 'read';
  return 'other';
}

/** The runner with every statement sent through the pacer (and so still through `db`'s own guard). */
export function pacedRunner(db: SqlRunner, pacer: Pacer): SqlRunner {
  return {
    dialect: db.dialect,
    execute: (sql, params, options) => pacer.run(statementKind(sql), () => db.execute(sql, params, options)),
    begin: () => db.begin(),
    commit: (tx) => db.commit(tx),
    rollback: (tx) => db.rollback(tx),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
