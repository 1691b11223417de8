/**
 * What the database census costs on a large unconfigured table, through the local Data API on a real
 * PostgreSQL: `npx tsx bench/census-cost.ts [--rows 1000000] [--latency-ms 0]` with REKEY_TEST_PG_URL
 * (or --url). Seeds a scratch schema `census_cost` (one table of N rows holding rk1 text under the
 * staged key, Fernet BYTEA tokens and free text, none of them configured), then times the sampled
 * census (what testSecret runs) and the full one, and drops the schema. Prints statements, rows read
 * and seconds; never a key.
 */
import { parseArgs } from 'node:util';
import {
  codecFor,
  createDataApiClient,
  dataApiRunner,
  dataKeyFromSecretString,
  generateSecretValue,
  parseConfig,
  silentLog,
  systemClock,
  takeDatabaseCensus,
} from '../lambda/index.js';
import { startLocal } from '../local/index.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'latency-ms': { type: 'string', default: '0' },
    url: {
      type: 'string',
      default: process.env.REKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
  },
});
const rows = Number(values.rows);
const local = await startLocal({
  engine: { postgresUrl: values.url },
  latencyMs: Number(values['latency-ms']),
});
try {
  const template = { encryptionKey: { kind: 'aes-256' as const }, fernetKey: { kind: 'fernet' as const } };
  const secret = generateSecretValue(template, {});
  const config = parseConfig({
    secretTemplate: template,
    dataKeyField: 'encryptionKey',
    storedFields: [{ table: 'configured', schema: 'census_cost', id: 'id', columns: ['v'] }],
    dataApi: { ...local.dataApiTarget, engine: 'postgres' },
  });
  const db = dataApiRunner(
    createDataApiClient({
      endpoint: local.dataApiUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    }),
    config.dataApi,
  );
  const rk1 = dataKeyFromSecretString(secret, 'encryptionKey', 'rk1');
  const fernet = dataKeyFromSecretString(secret, 'fernetKey', 'fernet');
  const where = { table: 'big', column: 'token' };
  const tokens = Array.from({ length: 1000 }, (_, i) =>
    codecFor('fernet').encrypt(Buffer.from(`value ${i}`), fernet, where),
  );
  const prefix = codecFor('rk1').sqlPrefix(rk1) as string;
  await db.execute('DROP SCHEMA IF EXISTS census_cost CASCADE');
  await db.execute('CREATE SCHEMA census_cost');
  await db.execute('CREATE TABLE census_cost.configured (id bigint PRIMARY KEY, v text)');
  await db.execute('CREATE TABLE census_cost.tokens (n int PRIMARY KEY, t text)');
  for (let i = 0; i < tokens.length; i += 100) {
    const batch = tokens.slice(i, i + 100);
    await db.execute(
      `INSERT INTO census_cost.tokens VALUES ${batch.map((_, j) => `(${i + j}, :t${j})`).join(', ')}`,
      Object.fromEntries(batch.map((t, j) => [`t${j}`, t])),
    );
  }
  const seeded = Date.now();
  await db.execute(
    `CREATE TABLE census_cost.big AS SELECT g AS id, :prefix || md5(g::text) || md5((g + 1)::text) AS payload,
       convert_to(t.t, 'LATIN1') AS token, 'note ' || g AS note
     FROM generate_series(1, ${rows}) g JOIN census_cost.tokens t ON t.n = g % 1000`,
    { prefix },
  );
  await db.execute('ALTER TABLE census_cost.big ADD PRIMARY KEY (id)');
  await db.execute('DROP TABLE census_cost.tokens');
  console.log(`seeded ${rows} rows in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
  const deps = { db, clock: systemClock, log: silentLog, config, deadline: Date.now() + 3_600_000 };
  for (const full of [false, true]) {
    const started = Date.now();
    const census = await takeDatabaseCensus({ target: secret, sources: [] }, deps, { full });
    const found = census.found.map(
      (f) =>
        `${f.table}.${f.column} ${f.format} ${f.label} ${f.rows}${f.exact ? ' exact' : ` in a sample of ${f.sampled}`}`,
    );
    console.log(
      `${full ? 'full   ' : 'sampled'} census: ${census.cost.statements} statements, ${census.cost.rowsRead} rows read, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s; found ${found.join(', ')}`,
    );
  }
  await db.execute('DROP SCHEMA census_cost CASCADE');
} finally {
  await local.close();
}
