/**
 * The application beside a rotation: starts the app-load process (bench/app-loop-worker.ts), and
 * reduces its samples to query latency percentiles over a time window, so the same app can be
 * compared with no rotation running and during one.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import type { AppLoopJob, AppLoopSamples, AppQueryKind } from './app-loop-worker.js';
import { BENCH_SCHEMA, BENCH_TABLE } from './seed.js';

/** The sibling table the app writes. */
export const APP_TABLE = `${BENCH_SCHEMA}.app_events`;
const APP_ROWS = 10_000;

/** A running app-load process. */
export interface AppLoop {
  /** Its process id, for reading its priority. */
  readonly pid: number | undefined;
  /** Stops it and hands back every query it timed. */
  stop(): Promise<AppLoopSamples>;
}

/** Query latency of the app over one window. */
export interface AppLatency {
  readonly queries: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The same per query kind (absent when the samples carry no kinds). */
  readonly byKind?: Readonly<Record<AppQueryKind, Omit<AppLatency, 'byKind'>>>;
}

/**
 * (Re)creates the app's own table: 10,000 rows over 100 accounts, indexed by account, as an app's
 * events or audit table.
 * @throws the driver's error.
 */
export async function prepareAppTable(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP TABLE IF EXISTS ${APP_TABLE}`);
    await client.query(
      `CREATE TABLE ${APP_TABLE} (id int PRIMARY KEY, account int NOT NULL, note text, updated_at timestamptz)`,
    );
    await client.query(
      `INSERT INTO ${APP_TABLE} SELECT g, g % 100 + 1, 'event ' || g, now() FROM generate_series(1, ${APP_ROWS}) g`,
    );
    await client.query(`CREATE INDEX ON ${APP_TABLE} (account, id)`);
    await client.query(`VACUUM ANALYZE ${APP_TABLE}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts the app-load process against `url`, reading the benchmark table's first `readRows` ids, and
 * resolves once its clients are connected. It ends by itself after `maxMs` at the latest.
 * @throws Error when the process exits before it is ready.
 */
export function startAppLoop(options: {
  readonly bundle: string;
  readonly url: string;
  readonly readRows: number;
  readonly clients: number;
  readonly thinkMs: number;
  readonly maxMs: number;
}): Promise<AppLoop> {
  const job: AppLoopJob = {
    url: options.url,
    clients: options.clients,
    thinkMs: options.thinkMs,
    readTable: `${BENCH_SCHEMA}.${BENCH_TABLE}`,
    readRows: options.readRows,
    appTable: APP_TABLE,
    appRows: APP_ROWS,
    maxMs: options.maxMs,
  };
  const child = spawn(process.execPath, [options.bundle], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let onLine: ((line: string) => void) | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    let nl = out.indexOf('\n');
    while (nl >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      onLine?.(line);
      nl = out.indexOf('\n');
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.write(`${JSON.stringify(job)}\n`);
  return new Promise((resolve, reject) => {
    onLine = (line) => {
      if (line !== 'ready') return;
      onLine = undefined;
      resolve({
        pid: child.pid,
        stop: () =>
          new Promise<AppLoopSamples>((done, fail) => {
            onLine = (result) => done(JSON.parse(result) as AppLoopSamples);
            void exited.then((code) => fail(new Error(`the app-load process exited with code ${code}`)));
            child.stdin.end('stop\n');
          }),
      });
    };
    void exited.then((code) => reject(new Error(`the app-load process exited with code ${code}`)));
  });
}

/** p50, p99 and max of the queries that started in [from, to) (ms since the epoch), also per kind. */
export function appLatency(samples: AppLoopSamples, from: number, to: number): AppLatency {
  const inWindow = (i: number) => {
    const t = samples.startedAt[i] ?? 0;
    return t >= from && t < to;
  };
  const all = percentiles(samples.ms.filter((_, i) => inWindow(i)));
  const kinds = samples.kinds;
  if (!kinds) return all;
  const of = (kind: AppQueryKind) =>
    percentiles(samples.ms.filter((_, i) => inWindow(i) && kinds[i] === kind));
  return { ...all, byKind: { read: of('read'), list: of('list'), update: of('update') } };
}

function percentiles(ms: number[]): Omit<AppLatency, 'byKind'> {
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.max(0, Math.ceil(q * ms.length) - 1))] ?? 0;
  return { queries: ms.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: ms.at(-1) ?? 0 };
}
