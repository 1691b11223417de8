import { DataApiError } from './rds-data/errors.js';
import { seededRandom } from './seeded-random.js';

/** The transient failures the Data API injects for tests and benchmarks. */
export type FaultKind = 'throttling' | 'statementTimeout' | 'databaseResuming' | 'serviceUnavailable';

/** Every fault kind, in a fixed order (a seeded rate picks among them). */
export const FAULT_KINDS: readonly FaultKind[] = [
  'throttling',
  'statementTimeout',
  'databaseResuming',
  'serviceUnavailable',
];

/** The Data API operations, as their URL paths name them. */
export type DataApiOperation =
  | 'Execute'
  | 'BatchExecute'
  | 'BeginTransaction'
  | 'CommitTransaction'
  | 'RollbackTransaction';

/**
 * One injected fault. By default the call fails before it reaches the database; with `afterExecute`
 * the statement runs (and commits, outside a transaction) and only the answer is lost, as when a
 * statement timeout strikes after the database has done the work.
 */
export type FaultSpec = FaultKind | { readonly kind: FaultKind; readonly afterExecute?: boolean };

/** When to inject faults. */
export interface FaultOptions {
  /** Probability (0 to 1) that an eligible call fails. @default 0 */
  readonly rate?: number;
  /** The kinds a rate-driven fault is drawn from. @default all kinds */
  readonly kinds?: readonly FaultKind[];
  /** Seed of the random generator, so a run with faults repeats exactly. @default 1 */
  readonly seed?: number;
  /** Faults on chosen calls, keyed by the 1-based number of the eligible call. */
  readonly onCalls?: Readonly<Record<number, FaultSpec>>;
  /** Which operations are eligible (and counted for `onCalls`). @default all operations */
  readonly operations?: readonly DataApiOperation[];
}

/** A fault decided for one call. */
export interface Fault {
  readonly kind: FaultKind;
  readonly afterExecute: boolean;
}

/** Decides, call by call, whether to inject a fault; deterministic for a given seed and call order. */
export class FaultInjector {
  private readonly random: () => number;
  private eligibleCalls = 0;

  constructor(private readonly options: FaultOptions = {}) {
    const rate = options.rate ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`faults.rate must be between 0 and 1, got ${rate}`);
    this.random = seededRandom(options.seed ?? 1);
  }

  /** The fault for the next call of this operation, if any. */
  next(operation: DataApiOperation): Fault | undefined {
    if (this.options.operations && !this.options.operations.includes(operation)) return undefined;
    this.eligibleCalls++;
    const chosen = this.options.onCalls?.[this.eligibleCalls];
    if (chosen !== undefined) {
      return typeof chosen === 'string'
        ? { kind: chosen, afterExecute: false }
        : { kind: chosen.kind, afterExecute: chosen.afterExecute ?? false };
    }
    const rate = this.options.rate ?? 0;
    if (rate === 0) return undefined;
    // Both draws happen on every eligible call, so the sequence depends only on the seed and call count.
    const hit = this.random() < rate;
    const kinds = this.options.kinds && this.options.kinds.length > 0 ? this.options.kinds : FAULT_KINDS;
    const kind = kinds[Math.floor(this.random() * kinds.length)] ?? 'throttling';
    return hit ? { kind, afterExecute: false } : undefined;
  }
}

/** The error the service answers with for a fault kind (names and statuses as the SDK models them). */
export function faultError(kind: FaultKind): DataApiError {
  switch (kind) {
    case 'throttling':
      return new DataApiError('ThrottlingException', 'Rate exceeded');
    case 'statementTimeout':
      return new DataApiError('StatementTimeoutException', 'Request timed out', { dbConnectionId: 1 });
    case 'databaseResuming':
      return new DataApiError(
        'DatabaseResumingException',
        'The Aurora DB instance local-instance-1 is resuming after being auto-paused. Please wait a few seconds and try again.',
      );
    case 'serviceUnavailable':
      return new DataApiError('ServiceUnavailableError', 'Service Unavailable');
  }
}
