/**
 * What rekey's statements over a whole column cost on an existing table, through the local Data API
 * on a real server: `npx tsx bench/whole-column-cost.ts --url mysql://root@127.0.0.1:3306/db --table t
 * --column c [--schema s] [--id id] [--chunk-rows N|all] [--census-only]`. Times the count and sizes, the census's
 * count by key prefix and the search for rows too large for the Data API, each as TableSql sends them
 * (in chunks of the id index on MySQL unless `--chunk-rows all`), then the sampled database census
 * testSecret takes (of every text column of the database, as if none were configured), and prints per
 * kind the statements sent, the longest one and the total; `--census-only` takes only the census (no
 * --table or --column then). Reads only; prints counts and times, never
 * a value.
 */
import { parseArgs } from 'node:util';
import {
  createDataApiClient,
  DATA_API_ROW_LIMIT,
  dataApiRunner,
  type Engine,
  generateSecretValue,
  parseConfig,
  type SqlRunner,
  silentLog,
  systemClock,
  TableSql,
  takeDatabaseCensus,
} from '../lambda/index.js';
import { startLocal } from '../local/index.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    table: { type: 'string' },
    column: { type: 'string' },
    schema: { type: 'string' },
    id: { type: 'string', default: 'id' },
    'chunk-rows': { type: 'string' },
    'census-only': { type: 'boolean', default: false },
  },
});
const { url, table, column } = values;
const censusOnly = values['census-only'] ?? false;
if (!url || (!censusOnly && (!table || !column))) {
  console.error(
    'usage: tsx bench/whole-column-cost.ts --url URL (--table T --column C [--schema S] [--id ID] | --census-only) [--chunk-rows N|all]',
  );
  process.exit(2);
}
const engine: Engine = url.startsWith('mysql:') ? 'mysql' : 'postgres';
const chunkOption = values['chunk-rows'];
const chunkRows =
  chunkOption === undefined
    ? undefined
    : chunkOption === 'all'
      ? Number.POSITIVE_INFINITY
      : Number(chunkOption);

const local = await startLocal({ engine: engine === 'mysql' ? { mysqlUrl: url } : { postgresUrl: url } });
try {
  const inner = dataApiRunner(
    createDataApiClient({
      endpoint: local.dataApiUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    }),
    { ...local.dataApiTarget, engine },
  );
  let times: number[] = [];
  const timed: SqlRunner = {
    ...inner,
    async execute(sql, params, options) {
      const started = performance.now();
      try {
        return await inner.execute(sql, params, options);
      } finally {
        times.push(performance.now() - started);
      }
    },
  };
  const kinds: [string, () => Promise<unknown>][] = [['the database census (sampled)', () => census(timed)]];
  if (!censusOnly && table && column) {
    const sql = await TableSql.open(
      timed,
      { table, id: values.id, columns: [column], ...(values.schema ? { schema: values.schema } : {}) },
      chunkRows === undefined ? {} : { chunkRows },
    );
    kinds.unshift(
      ['count and sizes', () => sql.stats(column)],
      ['count by key prefix', () => sql.countByPrefix(column, 'rk1:', 13)],
      ['rows too large for the Data API', () => sql.idsLargerThan(column, DATA_API_ROW_LIMIT)],
    );
  }
  console.log(
    `${engine}, ${censusOnly ? 'the census' : `${table}.${column}`}, chunks: ${chunkOption ?? 'the engine default'}`,
  );
  for (const [kind, run] of kinds) {
    times = [];
    const started = performance.now();
    await run();
    const total = (performance.now() - started) / 1000;
    const longest = Math.max(...times) / 1000;
    console.log(
      `${kind}: ${times.length} statements, longest ${longest.toFixed(2)} s, all ${total.toFixed(1)} s`,
    );
  }
} finally {
  await local.close();
}

/** The census testSecret takes, of a database where nothing is configured (a table that is not there). */
async function census(db: SqlRunner) {
  const template = { encryptionKey: { kind: 'aes-256' as const } };
  const config = parseConfig({
    secretTemplate: template,
    dataKeyField: 'encryptionKey',
    storedFields: [{ table: 'not_in_this_database', id: 'id', columns: ['v'] }],
    dataApi: { ...local.dataApiTarget, engine },
  });
  const deps = { db, clock: systemClock, log: silentLog, config, deadline: Date.now() + 3_600_000 };
  const staged = { target: generateSecretValue(template, {}), sources: [] };
  const result = await takeDatabaseCensus(staged, deps, chunkRows === undefined ? {} : { chunkRows });
  console.log(`census: ${result.checked} columns checked, ${result.aggregates} aggregate statements`);
  if (result.unchecked.length > 0) console.log(`census: ${result.unchecked.length} columns unchecked`);
  return result;
}
