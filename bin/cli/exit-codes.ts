import {
  ConfigError,
  EventError,
  NotFinishedError,
  RekeyError,
  RotationStateError,
} from '../../lambda/index.js';

/**
 * Exit codes scripts can rely on. Documented in `rekey --help` and docs/cli.md; a change here is a
 * breaking change.
 */
export const EXIT = {
  /** The command did what it says. */
  ok: 0,
  /** The rotation, the verification or an AWS call failed; the error line says which. */
  failed: 1,
  /** Bad flags, an unreadable or invalid config file: nothing was touched. */
  usage: 2,
  /** Not finished: `--wait` timed out, or the work stopped before the end; running again resumes. */
  notFinished: 3,
  /** The secret is not in a state that allows the command (nothing pending, already set up): nothing changed. */
  refused: 4,
} as const;

/** One of the documented exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit codes as `rekey --help` prints them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  failed: the rotation, the verification or an AWS call failed (the error line names it)
  2  usage: bad flags or an invalid config file; nothing was touched
  3  not finished: --wait timed out, or the work stopped early; running again resumes
  4  refused: the secret's state does not allow the command; nothing was changed
`;

/** A command line the command cannot act on (a missing secret id, a flag combination). */
export class UsageError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** `--wait` gave up before the rotation ended; the rotation itself goes on. */
export class WaitTimeoutError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WaitTimeoutError';
  }
}

/** A rotation that the CLI followed or drove ended without promoting the new version. */
export class RotationFailedError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationFailedError';
  }
}

/** Maps an error to its exit code; anything not listed is a failure. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof EventError)
    return EXIT.usage;
  if (error instanceof NotFinishedError || error instanceof WaitTimeoutError) return EXIT.notFinished;
  if (error instanceof RotationStateError) return EXIT.refused;
  return EXIT.failed;
}

/**
 * The one line printed for an error: its name and message, on one line. rekey's errors and the SDK's
 * carry no secret values, so the message is safe to print; the stack is only for `REKEY_DEBUG=1`.
 */
export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return `error: ${String(error)}`;
  const message = error.message.replace(/\s*\n\s*/g, ' ').trim();
  return `error: ${error.name}: ${message || '(no message)'}`;
}
