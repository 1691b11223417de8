/**
 * Entry of the application-load process: a few clients doing what an app does between requests
 * (read one of its encrypted rows by id, list a customer's recent events, update one), each on its
 * own connection to the same PostgreSQL, with a short pause between rounds, timing every query. Reads
 * its job as one JSON line on stdin, prints `ready` once connected, stops at a `stop` line (or stdin
 * closing, or `maxMs`), then prints its samples as one JSON line. Bundled by bench/build.ts.
 */
import { createInterface } from 'node:readline';
import pg from 'pg';

/** What the app process is asked to do. */
export interface AppLoopJob {
  readonly url: string;
  readonly clients: number;
  /** Pause between two rounds of one client. */
  readonly thinkMs: number;
  /** The rotated table (read by id) and how many ids it holds. */
  readonly readTable: string;
  readonly readRows: number;
  /** A sibling table the app writes (see prepareAppTable) and its row count. */
  readonly appTable: string;
  readonly appRows: number;
  /** A safety stop: the process ends by itself after this long. */
  readonly maxMs: number;
}

/**
 * The app's three queries: a read of one rotated row, a 10-row list and a one-row update. Timed apart
 * because they wait on different things during a rotation (a commit waits for its WAL flush behind
 * rekey's large UPDATE statements; a read does not).
 */
export type AppQueryKind = 'read' | 'list' | 'update';

/** Every query's start (ms since the epoch) and duration, in the order they ended. */
export interface AppLoopSamples {
  readonly startedAt: number[];
  readonly ms: number[];
  /** Each query's kind (absent in older results). */
  readonly kinds?: AppQueryKind[];
  readonly errors: number;
  /** The first error's message (SQL errors name no secret: the app's values are plain test data). */
  readonly firstError?: string;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
const job = JSON.parse(String(first.value)) as AppLoopJob;
let stopping = false;
const samples: AppLoopSamples & { kinds: AppQueryKind[]; errors: number; firstError?: string } = {
  startedAt: [],
  ms: [],
  kinds: [],
  errors: 0,
};

const clients = await Promise.all(
  Array.from({ length: job.clients }, async () => {
    const c = new pg.Client({ connectionString: job.url });
    await c.connect();
    return c;
  }),
);

async function timed(client: pg.Client, kind: AppQueryKind, sql: string, params: unknown[]): Promise<void> {
  const started = now();
  try {
    await client.query(sql, params);
    samples.startedAt.push(started);
    samples.ms.push(now() - started);
    samples.kinds.push(kind);
  } catch (error) {
    samples.errors++;
    samples.firstError ??= (error as Error).message;
  }
}

async function run(client: pg.Client, index: number): Promise<void> {
  // A fixed, per-client sequence: the same rounds in every run.
  let x = 0x9e3779b9 ^ (index + 1);
  const next = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % n) + 1;
  };
  while (!stopping) {
    await timed(client, 'read', `SELECT payload FROM ${job.readTable} WHERE id = $1`, [next(job.readRows)]);
    await timed(
      client,
      'list',
      `SELECT id, note FROM ${job.appTable} WHERE account = $1 ORDER BY id DESC LIMIT 10`,
      [next(100)],
    );
    await timed(client, 'update', `UPDATE ${job.appTable} SET note = $2, updated_at = now() WHERE id = $1`, [
      next(job.appRows),
      `seen ${Date.now()}`,
    ]);
    await sleep(job.thinkMs);
  }
}

process.stdout.write('ready\n');
const loops = clients.map((c, i) => run(c, i));
const safety = setTimeout(() => {
  stopping = true;
}, job.maxMs);
for (;;) {
  const line = await lines.next();
  if (line.done || String(line.value).trim() === 'stop') break;
}
stopping = true;
clearTimeout(safety);
await Promise.all(loops);
await Promise.all(clients.map((c) => c.end()));
process.stdout.write(`${JSON.stringify(samples)}\n`);
