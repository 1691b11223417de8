/**
 * The contract between the rotation and the apps that read through the key ring, in one place so both
 * sides use the same numbers (docs/operations.md, "The reader contract").
 *
 * - A reader reloads the staged versions at least every `maxAgeMs`, and never encrypts with a key it
 *   has not seen staged AWSCURRENT within the last `maxAgeMs`.
 * - The rotation never unstages a key while a reader within that bound may still write with it: a
 *   promotion that would unstage the key of an earlier AWSCURRENT waits until that version stopped
 *   being AWSCURRENT more than `maxAgeMs + marginMs` ago.
 */

/**
 * How long a key ring may go without reloading: one hour, the default refresh interval of AWS's own
 * Secrets Manager caching clients (Java, Python, Go, .NET).
 */
export const DEFAULT_READER_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * Added to the reader bound before a key may be unstaged: covers clock skew between hosts and a write
 * that an app encrypted just inside the bound and sends a little later.
 */
export const DEFAULT_READER_MARGIN_MS = 5 * 60 * 1000;

/**
 * How often a running setSecret or testSecret re-checks that its version still holds AWSPENDING and
 * that no operator is aborting it: often enough that it adds little to `rekey abort`'s wait (this plus
 * one statement, about 70 s), rarely enough that Secrets Manager's shared API rate (DescribeSecret) is
 * not a cost.
 */
export const DEFAULT_STAGE_CHECK_INTERVAL_MS = 10_000;
