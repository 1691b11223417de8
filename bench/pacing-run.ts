/**
 * One app-latency run: the benchmark table restored, the app started beside it and timed alone for a
 * while, then a rotation at the given pacing with the app still running, then the app's query latency
 * over each window. The app talks to PostgreSQL directly, as an app does; the rotation goes through
 * the Data API to the same server.
 */
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
export async function measurePacing(options: PacingRunOptions): Promise<PacingResult> {
  const restoreMs = await restoreTable(options.url, options.rows);
  await prepareAppTable(options.url);
  const app = await startAppLoop({
    bundle: options.appBundle,
    url: options.url,
    readRows: options.rows,
    clients: options.app.clients,
    thinkMs: options.app.thinkMs,
    maxMs: options.app.quietMs + APP_MAX_MS,
  });
  let run: RunResult;
  let quietFrom: number;
  let quietTo: number;
  try {
    await sleep(WARM_UP_MS);
    quietFrom = now();
    await sleep(options.app.quietMs);
    quietTo = now();
    run = await options.rotate(async () => restoreMs);
  } catch (error) {
    await app.stop().catch(() => undefined);
    throw error;
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
    appClients: options.app.clients,
    appErrors: samples.errors,
    ...(samples.firstError ? { appFirstError: samples.firstError } : {}),
  };
}
