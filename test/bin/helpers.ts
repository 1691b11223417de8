import type { CliIo } from '../../bin/cli/io.js';
import { run } from '../../bin/cli/program.js';
import type { Clock } from '../../lambda/ports.js';
import { fakeClock } from '../support/fake-clock.js';

/** What a run printed and returned. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Everything printed, for "no secret appears anywhere" checks. */
  readonly all: string;
}

/** Options of a test run: what stdin holds, whether streams look like a terminal, the clock. */
export interface RunOptions {
  readonly stdin?: string;
  readonly tty?: boolean;
  readonly clock?: Clock;
}

/** Runs the CLI in-process with captured output and a clock that never sleeps real time. */
export async function rekey(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdinText = options.stdin ?? '';
  const io: CliIo = {
    stdout: { write: (t: string) => out.push(t), isTTY: options.tty ?? false },
    stderr: { write: (t: string) => err.push(t), isTTY: options.tty ?? false },
    stdin: {
      isTTY: false,
      async *[Symbol.asyncIterator]() {
        if (stdinText) yield stdinText;
      },
    },
    clock: options.clock ?? fakeClock(),
  };
  const code = await run(argv, io);
  const stdout = out.join('');
  const stderr = err.join('');
  return { code, stdout, stderr, all: stdout + stderr };
}
