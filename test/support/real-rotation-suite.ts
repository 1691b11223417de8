import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { tableCodec } from '../../lambda/config.js';
import { generateSecretValue } from '../../lambda/secret-template.js';
import { type EngineSpec, inProcessInvoker } from '../../local/index.js';
import { PLAINTEXTS } from './fixtures.js';
import { type LocalWorld, readEveryField, startLocalWorld } from './local-world.js';

const TEMPLATE = {
  encryptionKey: { kind: 'aes-256' as const },
  appSecretKey: { kind: 'token' as const, length: 40, alphabet: 'abcdefghijklmnopqrstuvwxyz0123456789' },
};
const ROWS = 300;

/**
 * A whole rotation of an rk1 table (text, uuid-like text ids) and a Fernet BLOB table through the
 * local endpoints on a real database server, with a step failing and the service's retry resuming.
 */
export function realRotationSuite(label: string, engine: EngineSpec, dialect: 'postgres' | 'mysql'): void {
  const suffix = `${process.pid}_${Date.now() % 100000}`;
  const rkTable = `rk_rows_${suffix}`;
  const fernetTable = `fernet_rows_${suffix}`;
  const config = () => ({
    secretTemplate: TEMPLATE,
    dataKeyField: 'encryptionKey',
    codec: 'rk1' as const,
    // Three pages a column, four streams though the endpoints answer at once: the full read splits each
    // column at the ends of its pages (TableSql.pageEnds) on the real engine.
    paging: { maxRows: 100, maxBytes: 512 * 1024, streams: 4 },
    storedFields: [
      { table: rkTable, id: 'id', columns: ['payload', 'extra'] },
      {
        table: fernetTable,
        id: 'id',
        columns: ['options'],
        codec: 'fernet-sha256' as const,
        dataKeyField: 'appSecretKey',
      },
    ],
  });

  describe(`a rotation on ${label} through the local endpoints`, () => {
    let w: LocalWorld;
    const first = generateSecretValue(TEMPLATE);
    before(async () => {
      w = await startLocalWorld(config, { engine, engineName: dialect });
      const blob = dialect === 'mysql' ? 'LONGBLOB' : 'BYTEA';
      await w.db.execute(`CREATE TABLE ${rkTable} (id VARCHAR(40) PRIMARY KEY, payload TEXT, extra TEXT)`);
      await w.db.execute(`CREATE TABLE ${fernetTable} (id BIGINT PRIMARY KEY, options ${blob})`);
      for (const t of w.config.storedFields) {
        const { codec, dataKeyField } = tableCodec(w.config, t);
        const key = dataKeyFromSecretString(first, dataKeyField, codec);
        const enc = (column: string, i: number) =>
          codecFor(codec).encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
            table: t.table,
            column,
          });
        for (let i = 1; i <= ROWS; i++) {
          if (t.table === rkTable) {
            await w.db.execute(`INSERT INTO ${rkTable} VALUES (:id, :p, :e)`, {
              id: `row-${String(i * 37).padStart(6, '0')}`,
              p: enc('payload', i),
              e: i % 6 ? enc('extra', i) : null,
            });
          } else {
            await w.db.execute(`INSERT INTO ${fernetTable} VALUES (:id, :o)`, {
              id: i * 1000,
              o: Buffer.from(enc('options', i), 'latin1'),
            });
          }
        }
      }
    });
    after(async () => {
      for (const t of [rkTable, fernetTable]) await w.db.execute(`DROP TABLE IF EXISTS ${t}`);
      await w.close();
    });

    it('fails testSecret once, resumes with the same token, and ends with every field under the new key', async () => {
      const arn = await w.createSecret(first);
      let failures = 0;
      w.local.secretsManager.setInvoker(
        inProcessInvoker(async (event, context) => {
          if (event.Step === 'testSecret' && failures++ === 0) throw new Error('injected failure');
          await w.rotation(event, context);
        }),
      );
      const token = await w.rotate(arn);
      assert.equal(failures, 2, 'testSecret failed once and passed on the retry');
      const stages = (await w.sm.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ?? {};
      assert.ok(stages[token]?.includes('AWSCURRENT'));
      const current = (
        await w.sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }))
      ).SecretString as string;
      const read = await readEveryField(w, current);
      assert.equal(read, ROWS * 3 - Math.floor(ROWS / 6));
    });
  });
}
