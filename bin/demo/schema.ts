import type { SqlRunner, SqlValue } from '../../lambda/index.js';
import {
  codecFor,
  dataKeyFromSecretString,
  type RekeyConfig,
  type RekeyConfigInput,
  tableCodec,
} from '../../lambda/index.js';

/** The demo's secret: rk1's AES key, and a Redash-style REDASH_SECRET_KEY for its Fernet columns. */
export const DEMO_TEMPLATE: RekeyConfigInput['secretTemplate'] = {
  encryptionKey: { kind: 'aes-256' },
  redashSecretKey: { kind: 'token', length: 48 },
};

/** Redash's two encrypted tables (Fernet in BYTEA, keyed by sha256 of the secret key) and an rk1 table. */
export const DEMO_STORED_FIELDS: RekeyConfigInput['storedFields'] = [
  {
    table: 'data_sources',
    id: 'id',
    columns: ['encrypted_options'],
    codec: 'fernet-sha256',
    dataKeyField: 'redashSecretKey',
  },
  {
    table: 'notification_destinations',
    id: 'id',
    columns: ['encrypted_options'],
    codec: 'fernet-sha256',
    dataKeyField: 'redashSecretKey',
  },
  { table: 'app_secrets', id: 'id', columns: ['payload'] },
];

const INSERT_BATCH = 500;

/**
 * Creates the demo tables and fills them with values encrypted under `secret`, through the Data API
 * (multi-row inserts, so 20,000 rows take a few dozen calls).
 */
export async function seedDemo(
  db: SqlRunner,
  config: RekeyConfig,
  secret: string,
  rkRows: number,
): Promise<void> {
  const mysql = db.dialect === 'mysql';
  const blob = mysql ? 'LONGBLOB' : 'BYTEA';
  const serial = mysql ? 'BIGINT AUTO_INCREMENT PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY';
  for (const t of ['data_sources', 'notification_destinations', 'app_secrets'])
    await db.execute(`DROP TABLE IF EXISTS ${t}`);
  await db.execute(
    `CREATE TABLE data_sources (id ${serial}, name VARCHAR(255), type VARCHAR(255), encrypted_options ${blob})`,
  );
  await db.execute(
    `CREATE TABLE notification_destinations (id ${serial}, name VARCHAR(255), type VARCHAR(255), encrypted_options ${blob})`,
  );
  await db.execute('CREATE TABLE app_secrets (id BIGINT PRIMARY KEY, owner VARCHAR(64), payload TEXT)');

  const encrypt = (table: string, column: string, plaintext: string) => {
    const stored = config.storedFields.find((t) => t.table === table);
    if (!stored) throw new Error(`${table} is not configured`);
    const { codec, dataKeyField } = tableCodec(config, stored);
    const key = dataKeyFromSecretString(secret, dataKeyField, codec);
    return codecFor(codec).encrypt(Buffer.from(plaintext), key, { table, column });
  };
  const fernetBytes = (table: string, options: object) =>
    Buffer.from(encrypt(table, 'encrypted_options', JSON.stringify(options)), 'latin1');

  await insertMany(db, 'data_sources', ['name', 'type', 'encrypted_options'], 50, (i) => [
    `warehouse ${i}`,
    i % 2 ? 'pg' : 'redshift',
    fernetBytes('data_sources', { host: `db${i}.internal`, user: 'redash', password: `demo-password-${i}` }),
  ]);
  await insertMany(db, 'notification_destinations', ['name', 'type', 'encrypted_options'], 20, (i) => [
    `alerts ${i}`,
    'slack',
    fernetBytes('notification_destinations', { url: `https://hooks.example.invalid/T000/${i}` }),
  ]);
  await insertMany(db, 'app_secrets', ['id', 'owner', 'payload'], rkRows, (i) => [
    i * 3,
    `user${i % 997}`,
    encrypt(
      'app_secrets',
      'payload',
      JSON.stringify({ apiToken: `tok_${i}_demo`, note: 'rotated by rekey' }),
    ),
  ]);
}

async function insertMany(
  db: SqlRunner,
  table: string,
  columns: readonly string[],
  rows: number,
  row: (i: number) => SqlValue[],
): Promise<void> {
  for (let start = 1; start <= rows; start += INSERT_BATCH) {
    const params: Record<string, SqlValue> = {};
    const tuples: string[] = [];
    for (let i = start; i < Math.min(start + INSERT_BATCH, rows + 1); i++) {
      const values = row(i);
      tuples.push(
        `(${values
          .map((v, c) => {
            params[`v${i}_${c}`] = v;
            return `:v${i}_${c}`;
          })
          .join(', ')})`,
      );
    }
    await db.execute(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
}
