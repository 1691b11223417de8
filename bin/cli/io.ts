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

/**
 * The real process's streams and clock, with the process made ready for a command line tool (see
 * {@link prepareProcess}).
 */
export function processIo(): CliIo {
  prepareProcess();
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, clock: systemClock };
}

let prepared = false;

/**
 * What the real process needs before a command runs:
 * - no AWS SDK notice about Node versions on stderr before every command's output (the SDK prints it
 *   when a client is made, unless this variable says not to; an explicit value is left as set);
 * - a reader that goes away (`rekey --help | head -1`) ends the process quietly, as a closed pipe ends
 *   other command line tools, instead of an EPIPE stack. Any other stream error still surfaces.
 */
export function prepareProcess(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (prepared) return;
  prepared = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
}
