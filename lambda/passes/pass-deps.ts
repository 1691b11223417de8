import type { RekeyConfig } from '../config.js';
import type { Clock, Log, ProgressSink, SqlRunner } from '../ports.js';
import type { RetryPolicy } from '../retry.js';
import type { TableSql } from '../sql.js';
import type { Pacer } from './pacing.js';

/**
 * The collaborators of every pass over the stored rows: re-encryption (setSecret, the sweep, abort's
 * move-back), verification (testSecret), the census of configured columns, the census of the whole
 * database, and the plan. One type, so that a pass can call another with what it was given.
 */
export interface PassDeps {
  readonly clock: Clock;
  readonly log: Log;
  readonly config: RekeyConfig;
  readonly db: SqlRunner;
  /** Epoch ms by which the pass must have stopped (the Lambda's deadline). */
  readonly deadline: number;
  readonly retry?: RetryPolicy;
  /** Fields added to every log line (step, secretId, versionId). */
  readonly logFields?: Record<string, unknown>;
  /** Told after every page, in rows of the page's column and in values over the whole pass. */
  readonly progress?: ProgressSink;
  /**
   * One pacer for the passes of a step that run side by side (testSecret's census, catch-up and
   * verification), so that together they stay within `pacing`; without it each pass paces itself.
   */
  readonly pacer?: Pacer;
  /** The configured tables as one catalog lookup of the step found them (see TableSql.through). */
  readonly tables?: Promise<OpenedTables>;
  /**
   * Stops the pass at its streams' next pages (each awaits its statements in flight first), which then
   * throws rather than return what it had read: a step's other check failed, so the rest is moot.
   */
  readonly signal?: AbortSignal;
}

/** The configured tables, looked up once for a step, and the quickest lookup's round trip. */
export interface OpenedTables {
  readonly tables: readonly TableSql[];
  readonly latencyMs: number;
}

/** Shared progress over all columns of a pass: values handled and values to handle. */
export interface PassProgress {
  done: number;
  readonly total: number;
}
