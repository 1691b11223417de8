/**
 * One app-latency run: the benchmark table restored and checkpointed, the app started beside it and
 * timed alone for a while, then a rotation at the given pacing with the app still running, then the
 * app's query latency over each window. The app talks to PostgreSQL directly, as an app does; the
 * rotation goes through the Data API to the same server. While the app is timed, the bench's own
 * process (the local Data API) and the step processes it starts run at the lowest CPU priority; see
 * `AppRunPriorities`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import pg from 'pg';
import { appLatency, prepareAppTable, startAppLoop } from './app-loop.js';
import type { PacingResult, RunResult } from './results.js';
import { restoreTable } from './seed.js';

/** How to run it. */
export interface PacingRunOptions {
  readonly url: string;
  readonly rows: number;
  readonly appBundle: string;
  readonly app: { readonly clients: number; readonly thinkMs: number; readonly quietMs: number };
  /** Runs the rotation; `prepare` reports the restore already done (the app reads the table meanwhile). */
  readonly rotate: (prepare: () => Promise<number>) => Promise<RunResult>;
}

/**
 * Nice values (-20 highest, 19 lowest) while the app was timed. On AWS the Lambda and the Data API run
 * on other machines, so the app competes only with PostgreSQL's own work for rekey's statements; on
 * this machine they share its cores, and running them last models that.
 */
export interface AppRunPriorities {
  /** The bench's process, every thread of it: the local Data API and the local Secrets Manager. */
  readonly bench: number;
  /** The step processes (the Lambda): forked by the bench while it is lowered, so they take its value. */
  readonly steps: number;
  /** The app's process, read back from the system: started before the bench was lowered. */
  readonly app: number | undefined;
  /**
   * The bench's scheduling policy, read back from the system: `idle` (SCHED_IDLE: it runs only on a
   * core nothing else wants, and the app or PostgreSQL waking takes the core at once) or `other` (the
   * normal policy, where the nice value weighs it, and a woken app can still wait behind it for a few
   * milliseconds of the scheduler's wake-up granularity). Absent in older results: `other`.
   */
  readonly policy?: 'idle' | 'other';
  readonly why: string;
}

/** One app-latency run, with the priorities it ran at. */
export interface PacingRunResult extends PacingResult {
  readonly priorities: AppRunPriorities;
}

const LOWEST_PRIORITY = 19;

/** Lambda's 15 minutes for each of the two long steps, and some: the app process's own stop. */
const APP_MAX_MS = 2 * 16 * 60_000;
/** Connections and plans warm before anything is timed. */
const WARM_UP_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/**
 * Measures the app without and with a rotation (see the module comment).
 * @throws the driver's error, or Error when the app process fails.
 */
export async function measurePacing(options: PacingRunOptions): Promise<PacingRunResult> {
  const restoreMs = await restoreTable(options.url, options.rows);
  await prepareAppTable(options.url);
  await checkpoint(options.url);
  const app = await startAppLoop({
    bundle: options.appBundle,
    url: options.url,
    readRows: options.rows,
    clients: options.app.clients,
    thinkMs: options.app.thinkMs,
    maxMs: options.app.quietMs + APP_MAX_MS,
  });
  // The app is already running, so it keeps the bench's priority: a child takes its parent's at fork.
  const benchPriority = getPriority();
  // Only root may raise the bench back afterwards.
  const lower = process.platform === 'linux' && process.getuid?.() === 0;
  let priorities: AppRunPriorities;
  let run: RunResult;
  let quietFrom: number;
  let quietTo: number;
  try {
    if (lower) lowerSelf();
    priorities = {
      bench: getPriority(),
      steps: getPriority(),
      app: app.pid === undefined ? undefined : getPriority(app.pid),
      policy: schedulingPolicy(),
      why: lower
        ? 'the Lambda and the Data API run on other machines on AWS: here they get only the CPU the app and PostgreSQL leave'
        : 'left equal: the bench could not raise itself back after the run (not root on Linux)',
    };
    await sleep(WARM_UP_MS);
    quietFrom = now();
    await sleep(options.app.quietMs);
    quietTo = now();
    run = await options.rotate(async () => restoreMs);
  } catch (error) {
    await app.stop().catch(() => undefined);
    throw error;
  } finally {
    if (lower) raiseSelf(benchPriority);
  }
  const samples = await app.stop();
  const set = run.raw.steps.setSecret;
  const test = run.raw.steps.testSecret;
  const setFrom = set?.handlerStartedAt ?? 0;
  const setTo = set?.handlerEndedAt ?? 0;
  return {
    run,
    quiet: appLatency(samples, quietFrom, quietTo),
    quietMs: quietTo - quietFrom,
    duringSetSecret: appLatency(samples, setFrom, setTo),
    duringRotation: appLatency(samples, setFrom, test?.handlerEndedAt ?? setTo),
    priorities,
    appClients: options.app.clients,
    appErrors: samples.errors,
    ...(samples.firstError ? { appFirstError: samples.firstError } : {}),
  };
}

/**
 * Writes out what the restore left dirty: the copy leaves some 200 MB of dirty page cache that the
 * kernel writes back over the next half minute, and that writeback slowed the app's commits while it
 * was being timed alone (its p99 alone ranged from 3 to 20 ms between runs).
 * @throws the driver's error (CHECKPOINT needs a superuser or pg_checkpoint).
 */
async function checkpoint(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/**
 * Lowers every thread of this process as far as it goes: nice 19, and SCHED_IDLE where `chrt` (util-
 * linux) is there to set it, since on AWS the Lambda and the Data API take none of the database
 * machine's CPU, while at nice 19 a woken app can still wait out the scheduler's wake-up granularity.
 * Measured back to back it changed little (app p99 11.9 → 11.2 ms during a 1M-row setSecret).
 */
function lowerSelf(): void {
  reniceSelf(LOWEST_PRIORITY);
  chrt('--idle');
}

/** Undoes `lowerSelf`: the normal policy, then the nice value the bench had. */
function raiseSelf(nice: number): void {
  chrt('--other');
  reniceSelf(nice);
}

/** Sets this process's policy, every thread (`--all-tasks`); without `chrt` it stays as it is. */
function chrt(policy: '--idle' | '--other'): void {
  spawnSync('chrt', ['--all-tasks', policy, '--pid', '0', String(process.pid)], { stdio: 'ignore' });
}

/** This process's scheduling policy, from /proc/self/stat (field 41: 0 normal, 5 SCHED_IDLE). */
function schedulingPolicy(): 'idle' | 'other' | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const policy = Number(fields[41 - 3]);
    return policy === 5 ? 'idle' : policy === 0 ? 'other' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets the nice value of every thread of this process. Linux keeps one per thread, and
 * `setPriority(19)` alone lowers only the main thread, leaving V8's GC helpers and libuv's pool as
 * they were; a child takes the value of the thread that forks it.
 */
function reniceSelf(nice: number): void {
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      setPriority(Number(tid), nice);
    } catch (error) {
      // A thread that ended since the listing.
      if ((error as { info?: { code?: string } }).info?.code !== 'ESRCH') throw error;
    }
  }
}
