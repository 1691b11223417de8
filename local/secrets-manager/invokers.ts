import { spawn } from 'node:child_process';
import type { LocalClock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { RotationInvocation, RotationInvoker } from './types.js';

/** The part of a Lambda context a rotation handler reads. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** A Lambda-style handler, such as rekey's rotation handler. */
export type LambdaHandler = (event: RotationInvocation, context: InvocationContext) => Promise<unknown>;

/**
 * Invokes a handler in this process, as Lambda would: with the event and a context whose remaining
 * time counts down from the function timeout. The timeout is only reported, not enforced.
 */
export function inProcessInvoker(
  handler: LambdaHandler,
  options: { readonly timeoutMs?: number; readonly clock?: LocalClock } = {},
): RotationInvoker {
  const timeoutMs = options.timeoutMs ?? 900_000;
  const clock = options.clock ?? systemClock;
  return async (event) => {
    const deadline = clock.now() + timeoutMs;
    await handler(event, { getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()) });
  };
}

/** A rotation function run as a separate process per step. */
export interface CommandInvokerOptions {
  readonly command: string;
  readonly args?: readonly string[];
  /** Added to this process's environment (the local endpoints' variables, typically). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** The process is killed, and the step failed, after this long. @default 900000 (Lambda's maximum) */
  readonly timeoutMs?: number;
  /** Where the process's output goes. @default 'inherit' */
  readonly stdio?: 'inherit' | 'ignore';
}

/** A rotation step whose process failed: non-zero exit, a signal, or a timeout. */
export class RotationCommandError extends Error {
  override readonly name = 'RotationCommandError';
}

/**
 * Runs each step as a process that reads the event as JSON on stdin; exit code 0 is success. A crash
 * (or a kill) is a failed step, which is how crash tests interrupt a rotation for real.
 */
export function commandInvoker(options: CommandInvokerOptions): RotationInvoker {
  return (event) =>
    new Promise<void>((resolve, reject) => {
      const stdio = options.stdio ?? 'inherit';
      const child = spawn(options.command, [...(options.args ?? [])], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['pipe', stdio, stdio],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 900_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(
          new RotationCommandError(`could not start ${options.command}: ${error.message}`, { cause: error }),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          reject(new RotationCommandError(`rotation command ${how} during ${event.Step}`));
        }
      });
      // A process that exits without reading its input must not turn into an EPIPE crash here.
      child.stdin.on('error', () => {});
      child.stdin.end(JSON.stringify(event));
    });
}
