import type { Log } from '../../lambda/index.js';
import { silentLog } from '../../lambda/index.js';
import type { Output } from './io.js';

/**
 * The log the steps write to when the CLI drives them: nothing by default (the CLI prints its own
 * lines), or with `--verbose` the same one-JSON-object-per-line entries the Lambda writes, on stderr so
 * that stdout stays the command's output. The steps never pass secret values to a log.
 */
export function cliLog(stderr: Output, verbose: boolean | undefined, now: () => number): Log {
  if (!verbose) return silentLog;
  const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    stderr.write(
      `${JSON.stringify({ level, message, timestamp: new Date(now()).toISOString(), ...fields })}\n`,
    );
  };
  return { info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
}
