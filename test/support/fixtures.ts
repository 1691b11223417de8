import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { DataKey } from '../../lambda/codecs/types.js';
import { parseConfig, type RekeyConfig, type RekeyConfigInput } from '../../lambda/config.js';
import type { SqlRunner } from '../../lambda/ports.js';

/** The secret's ARN in every test. */
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf';

/** Two versions' values for the rk1 template (keys are test keys, public on purpose). */
export const RK1_SECRET_A = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 1).toString('base64'),
  cookieSecret: 'a'.repeat(64),
});
export const RK1_SECRET_B = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 2).toString('base64'),
  cookieSecret: 'b'.repeat(64),
});
export const RK1_SECRET_C = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 3).toString('base64'),
  cookieSecret: 'c'.repeat(64),
});

/** Values of a Redash-shaped secret for the fernet-sha256 codec. */
export const REDASH_SECRET_A = JSON.stringify({ secretKey: 'redash-secret-key-a-0123456789abcdef' });
export const REDASH_SECRET_B = JSON.stringify({ secretKey: 'redash-secret-key-b-0123456789abcdef' });

/** Plaintexts seeded into the tables; tests assert none of them reaches a log or an error. */
export const PLAINTEXTS = ['{"password":"hunter2"}', 's3cr3t-api-token', 'café ☕ and bytes'];

/** Config for two tables with several columns, numeric, text and uuid ids. */
export function rk1Config(overrides: Partial<RekeyConfigInput> = {}): RekeyConfig {
  return parseConfig({
    secretId: SECRET_ARN,
    secretTemplate: { encryptionKey: { kind: 'aes-256' }, cookieSecret: { kind: 'token', length: 64 } },
    dataKeyField: 'encryptionKey',
    codec: 'rk1',
    storedFields: [
      { table: 'data_sources', id: 'id', columns: ['options', 'extra'] },
      { table: 'tokens', id: 'token_id', columns: ['value'] },
      { table: 'alerts', id: 'uid', columns: ['destination'] },
    ],
    dataApi: {
      resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
      secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
      database: 'test',
      engine: 'postgres',
    },
    ...overrides,
  });
}

/** Config for Redash's two tables, Fernet tokens in BYTEA, keyed by sha256 of REDASH_SECRET_KEY. */
export function redashConfig(): RekeyConfig {
  return parseConfig({
    secretId: SECRET_ARN,
    secretTemplate: { secretKey: { kind: 'token', length: 48 } },
    dataKeyField: 'secretKey',
    codec: 'fernet-sha256',
    storedFields: [
      { table: 'data_sources', id: 'id', columns: ['encrypted_options'] },
      { table: 'notification_destinations', id: 'id', columns: ['encrypted_options'] },
    ],
    dataApi: {
      resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
      secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
      database: 'test',
      engine: 'postgres',
    },
  });
}

/** The data key of a secret value under a config. */
export function keyOf(secret: string, config: RekeyConfig): DataKey {
  return dataKeyFromSecretString(secret, config.dataKeyField, config.codec);
}

/** Creates the rk1 tables and fills them with `rows` rows per table encrypted under `secret`. */
export async function seedRk1(
  db: SqlRunner,
  config: RekeyConfig,
  secret: string,
  rows: number,
): Promise<void> {
  const codec = codecFor(config.codec);
  const key = keyOf(secret, config);
  const enc = (table: string, column: string, i: number) =>
    codec.encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, { table, column });
  await db.execute('CREATE TABLE data_sources (id bigint PRIMARY KEY, options text, extra text)');
  await db.execute('CREATE TABLE tokens (token_id text PRIMARY KEY, value text)');
  await db.execute('CREATE TABLE alerts (uid uuid PRIMARY KEY, destination text)');
  for (let i = 1; i <= rows; i++) {
    // Ids with large gaps, and a NULL in every fifth row.
    await db.execute('INSERT INTO data_sources VALUES (:id, :options, :extra)', {
      id: i * 1000,
      options: enc('data_sources', 'options', i),
      extra: i % 5 === 0 ? null : enc('data_sources', 'extra', i),
    });
    await db.execute('INSERT INTO tokens VALUES (:id, :value)', {
      id: `tok-${String(i).padStart(4, '0')}`,
      value: enc('tokens', 'value', i),
    });
    await db.execute('INSERT INTO alerts VALUES (CAST(:id AS uuid), :value)', {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      value: enc('alerts', 'destination', i),
    });
  }
}

/** Creates Redash's tables with Fernet tokens in BYTEA under `secret`. */
export async function seedRedash(
  db: SqlRunner,
  config: RekeyConfig,
  secret: string,
  rows: number,
): Promise<void> {
  const codec = codecFor(config.codec);
  const key = keyOf(secret, config);
  await db.execute('CREATE TABLE data_sources (id serial PRIMARY KEY, name text, encrypted_options bytea)');
  await db.execute(
    'CREATE TABLE notification_destinations (id serial PRIMARY KEY, name text, encrypted_options bytea)',
  );
  for (let i = 1; i <= rows; i++) {
    for (const table of ['data_sources', 'notification_destinations']) {
      const token = codec.encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
        table,
        column: 'encrypted_options',
      });
      await db.execute(`INSERT INTO ${table} (name, encrypted_options) VALUES (:name, :opts)`, {
        name: `n${i}`,
        opts: Buffer.from(token, 'latin1'),
      });
    }
  }
}
