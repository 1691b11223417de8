/**
 * Entry of the row-by-row baseline process: re-encrypts rows one at a time through the Data API, one
 * SELECT and one UPDATE per row, the way hand-written re-encrypt commands do it (Redash's
 * `manage.py database reencrypt` updates row by row; over the Data API, which has no cursors, the
 * read is one row per call too). Same rk1 crypto as rekey; no compare-and-swap, as those commands
 * have none. Reads its job as JSON on stdin and prints its result as JSON on stdout. Bounded by
 * `rows` and `maxMs`. Bundled by bench/build.ts.
 */
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { asText, type DataApiTarget, dataApiRunner, rk1 } from '../lambda/index.js';
import { peakRssKb } from './peak-rss.js';

/** What the baseline process is asked to do. */
export interface BaselineJob {
  readonly endpoint: string;
  readonly target: DataApiTarget;
  /** Base64 data keys (benchmark keys, not secrets of anyone). */
  readonly sourceKey: string;
  readonly targetKey: string;
  readonly table: string;
  readonly tableName: string;
  readonly rows: number;
  readonly maxMs: number;
}

/** What it did. */
export interface BaselineResult {
  readonly rows: number;
  readonly ms: number;
  readonly maxRssKb: number;
}

let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const job = JSON.parse(input) as BaselineJob;
const client = new RDSDataClient({
  endpoint: job.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  maxAttempts: 1,
});
const db = dataApiRunner(client, job.target);
const source = rk1.deriveKey(job.sourceKey);
const target = rk1.deriveKey(job.targetKey);
const where = { table: job.tableName, column: 'payload' };
const started = performance.now();
let after = 0;
let rows = 0;
while (rows < job.rows && performance.now() - started < job.maxMs) {
  const read = await db.execute(
    `SELECT id, payload FROM ${job.table} WHERE id > CAST(:after AS bigint) ORDER BY id LIMIT 1`,
    { after },
  );
  const row = read.rows[0];
  if (!row) break;
  after = Number(row[0]);
  const next = rk1.encrypt(rk1.decrypt(asText(row[1] as string), source, where), target, where);
  await db.execute(`UPDATE ${job.table} SET payload = :next WHERE id = CAST(:id AS bigint)`, {
    next,
    id: after,
  });
  rows++;
}
const result: BaselineResult = {
  rows,
  ms: performance.now() - started,
  maxRssKb: peakRssKb(),
};
client.destroy();
console.log(JSON.stringify(result));
