import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { PLAINTEXTS } from '../support/fixtures.js';
import { type LocalWorld, readEveryField, startLocalWorld } from '../support/local-world.js';

const FIRST_VALUE = JSON.stringify({ encryptionKey: Buffer.alloc(32, 5).toString('base64') });
/** Snowflake-style ids: as doubles they are all 2^60; as BIGINTs each is its own row. */
const BIG_IDS = Array.from({ length: 7 }, (_, k) => (1152921504606846977n + 2n * BigInt(k)).toString());
const CHAR_IDS = ['a b', 'k-1', 'k-10', 'k-2', 'k-3', 'z'];

const configFor = () => ({
  secretTemplate: { encryptionKey: { kind: 'aes-256' as const } },
  dataKeyField: 'encryptionKey',
  codec: 'rk1' as const,
  paging: { maxRows: 2, maxBytes: 512 * 1024 },
  storedFields: [
    { table: 'keyed_by_char', id: 'id', columns: ['secret'] },
    { table: 'keyed_by_bigint', id: 'id', columns: ['payload', 'data'] },
  ],
});

describe('a whole rotation over tables keyed by CHAR(n) and by BIGINTs near 2^60', () => {
  let w: LocalWorld;
  before(async () => {
    w = await startLocalWorld(configFor);
    await w.db.execute('CREATE TABLE keyed_by_char (id char(12) PRIMARY KEY, secret text)');
    await w.db.execute('CREATE TABLE keyed_by_bigint (id bigint PRIMARY KEY, payload text, data bytea)');
    const key = dataKeyFromSecretString(FIRST_VALUE, 'encryptionKey', 'rk1');
    const enc = (table: string, column: string, i: number) =>
      codecFor('rk1').encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
        table,
        column,
      });
    for (const [i, id] of CHAR_IDS.entries())
      await w.db.execute('INSERT INTO keyed_by_char VALUES (:id, :v)', {
        id,
        v: enc('keyed_by_char', 'secret', i),
      });
    for (const [i, id] of BIG_IDS.entries())
      await w.db.execute('INSERT INTO keyed_by_bigint VALUES (CAST(:id AS bigint), :p, :d)', {
        id,
        p: enc('keyed_by_bigint', 'payload', i),
        d: Buffer.from(enc('keyed_by_bigint', 'data', i), 'latin1'),
      });
  });
  after(async () => {
    await w.close();
  });

  // Bounded: a pass whose keyset bounds lose characters or digits re-reads the same page until the
  // Lambda's deadline instead of failing.
  it('promotes the new version with every row moved under it, and every id still exact', {
    timeout: 60_000,
  }, async () => {
    const arn = await w.createSecret(FIRST_VALUE);
    const token = await w.rotate(arn);
    const stages = (await w.sm.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ?? {};
    assert.ok(stages[token]?.includes('AWSCURRENT'), 'the rotation finished');
    const current = (
      await w.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }))
    ).SecretString as string;
    assert.equal(await readEveryField(w, current), CHAR_IDS.length + 2 * BIG_IDS.length);
    const big = await w.db.execute('SELECT CAST(id AS text) FROM keyed_by_bigint ORDER BY id');
    assert.deepEqual(
      big.rows.map(([id]) => id),
      BIG_IDS,
    );
  });
});
