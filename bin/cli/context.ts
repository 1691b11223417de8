import type { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** What every command gets from the program: the injected io, and a way to set the exit code. */
export interface CommandContext {
  readonly io: CliIo;
  /** Sets the run's exit code; the last call wins. */
  setExit(code: ExitCode): void;
}

/** Writes lines of text to stdout. */
export function printLines(ctx: CommandContext, ...lines: string[]): void {
  for (const line of lines) ctx.io.stdout.write(`${line}\n`);
}

/** Writes one JSON document to stdout (`--json`). Dates become ISO 8601 strings. */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
