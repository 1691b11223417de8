import { type Clock, systemClock } from '../../lambda/index.js';

/** Where a command writes: `process.stdout`/`process.stderr`, or a buffer in tests. */
export interface Output {
  write(text: string): unknown;
  /** True on a terminal: progress is drawn as a bar only there. */
  readonly isTTY?: boolean;
}

/** Where an adopted key is read from with `-`: `process.stdin`, or a fixed text in tests. */
export interface Input extends AsyncIterable<string | Uint8Array> {
  readonly isTTY?: boolean;
}

/**
 * Everything a command touches outside AWS: its streams and the clock. Injected so that tests run the
 * commands in-process, capture what they print and never sleep real time.
 */
export interface CliIo {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: Input;
  readonly clock: Clock;
}

/** The real process's streams and clock. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, clock: systemClock };
}
