import { StatementTooSlowError } from './errors.js';
import type { Clock } from './ports.js';

/**
 * Errors by which the Data API or the database says it is under pressure (throttled, paused, scaling,
 * overloaded): worth another try, and a reason for the pacer (lambda/passes/pacing.ts) to back off.
 */
export const PRESSURE_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'DatabaseResumingException',
  'DatabaseUnavailableException',
  'ServiceUnavailableError',
  'ServiceUnavailableException',
  'StatementTimeoutException',
]);

/** Names of the Data API and Secrets Manager errors that are worth another try. */
const TRANSIENT_ERROR_NAMES = new Set([
  ...PRESSURE_ERROR_NAMES,
  'InternalServerErrorException',
  'InternalServiceError',
]);

/**
 * A connection that broke before its answer arrived: a keep-alive socket the far end closed while idle
 * ("socket hang up"), a reset, a timeout. The clients run with the SDK's own retries off (rekey retries
 * here, with its own policy), so these must count: as the SDK's retry strategy counts them.
 */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const NETWORK_ERROR_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/**
 * Whether an error is transient: throttling, an auto-paused Aurora resuming, a statement timeout, a 5xx
 * answer, or a connection that broke on the way. Matched by the error's name, code and HTTP status,
 * never by message text. Repeating is safe only because every statement rekey retries is a read or a
 * compare-and-swap: a write that took effect before its answer was lost matches no row the second
 * time, and the pass re-reads such rows.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_ERROR_NAMES.has(error.name) || NETWORK_ERROR_NAMES.has(error.name)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

/** How often and how long to retry. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /**
   * The most attempts in a row that may end in StatementTimeoutException: each costs the Data API's
   * 45 s, so the eight attempts allowed for throttling would spend six minutes of a 15-minute
   * invocation on one statement that is slow every time.
   * @default 3
   */
  readonly timeoutAttempts?: number;
}

const DEFAULT_TIMEOUT_ATTEMPTS = 3;

/** Enough for an Aurora auto-pause to resume (tens of seconds) without hiding a real outage. */
export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 8,
  baseMs: 200,
  maxMs: 10_000,
  timeoutAttempts: DEFAULT_TIMEOUT_ATTEMPTS,
};

/**
 * Runs `work` and retries it on transient errors with exponential backoff and full jitter. Only for
 * work that is safe to repeat (reads, and compare-and-swap writes).
 * @throws StatementTooSlowError (the last timeout its cause) once `timeoutAttempts` attempts in a row
 *   timed out; otherwise the last error, when it is not transient or the attempts are used up.
 */
export async function withRetry<T>(
  work: () => Promise<T>,
  options: {
    clock: Clock;
    policy?: RetryPolicy;
    random?: () => number;
    onRetry?: (error: Error, attempt: number) => void;
  },
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const timeoutAttempts = policy.timeoutAttempts ?? DEFAULT_TIMEOUT_ATTEMPTS;
  let timeoutsInARow = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      timeoutsInARow = isStatementTimeout(error) ? timeoutsInARow + 1 : 0;
      if (timeoutsInARow >= timeoutAttempts)
        throw new StatementTooSlowError(timeoutsInARow, { cause: error });
      if (attempt >= policy.attempts || !isTransient(error)) throw error;
      options.onRetry?.(error as Error, attempt);
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      await options.clock.sleep(Math.floor(random() * ceiling));
    }
  }
}

function isStatementTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'StatementTimeoutException';
}
