import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
} from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { tableCodec } from '../../lambda/config.js';
import { inProcessInvoker } from '../../local/index.js';
import { PLAINTEXTS } from '../support/fixtures.js';
import { type LocalWorld, readEveryField, startLocalWorld } from '../support/local-world.js';

/** One secret for two formats: rk1 under an aes-256 field, Redash's Fernet under a token field. */
const FIRST_VALUE = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 9).toString('base64'),
  redashSecretKey: 'the-app-secret-key-before-rekey',
});

const configFor = () => ({
  secretTemplate: {
    encryptionKey: { kind: 'aes-256' as const },
    redashSecretKey: { kind: 'token' as const, length: 48 },
  },
  dataKeyField: 'encryptionKey',
  codec: 'rk1' as const,
  storedFields: [
    { table: 'secrets_rk1', id: 'id', columns: ['payload', 'extra'] },
    {
      table: 'data_sources',
      id: 'id',
      columns: ['encrypted_options'],
      codec: 'fernet-sha256' as const,
      dataKeyField: 'redashSecretKey',
    },
  ],
});

async function seed(w: LocalWorld, secret: string, rows: number): Promise<void> {
  await w.db.execute('CREATE TABLE secrets_rk1 (id bigint PRIMARY KEY, payload text, extra text)');
  await w.db.execute('CREATE TABLE data_sources (id serial PRIMARY KEY, encrypted_options bytea)');
  for (const t of w.config.storedFields) {
    const { codec, dataKeyField } = tableCodec(w.config, t);
    const key = dataKeyFromSecretString(secret, dataKeyField, codec);
    for (let i = 1; i <= rows; i++) {
      const enc = (column: string) =>
        codecFor(codec).encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
          table: t.table,
          column,
        });
      if (t.table === 'secrets_rk1') {
        await w.db.execute('INSERT INTO secrets_rk1 VALUES (:id, :p, :e)', {
          id: i * 7,
          p: enc('payload'),
          e: i % 4 ? enc('extra') : null,
        });
      } else {
        await w.db.execute('INSERT INTO data_sources (encrypted_options) VALUES (:o)', {
          o: Buffer.from(enc('encrypted_options'), 'latin1'),
        });
      }
    }
  }
}

async function stages(w: LocalWorld, secretId: string): Promise<Record<string, string[]>> {
  const d = await w.sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  return d.VersionIdsToStages as Record<string, string[]>;
}

async function valueAt(w: LocalWorld, secretId: string, stage: string): Promise<string> {
  return (await w.sm.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage })))
    .SecretString as string;
}

describe('a rotation through the local endpoints, with the real SDK clients over HTTP', () => {
  let w: LocalWorld;
  before(async () => {
    w = await startLocalWorld(configFor);
  });
  after(() => w.close());

  it('re-encrypts rk1 and Redash Fernet columns, verifies, and promotes the new version', async () => {
    await seed(w, FIRST_VALUE, 40);
    const arn = await w.createSecret(FIRST_VALUE);
    const token = await w.rotate(arn);
    assert.deepEqual((await stages(w, arn))[token], ['AWSCURRENT']);
    const current = await valueAt(w, arn, 'AWSCURRENT');
    assert.notEqual(current, FIRST_VALUE);
    assert.equal(await valueAt(w, arn, 'AWSPREVIOUS'), FIRST_VALUE);
    assert.equal(await readEveryField(w, current), 40 + 30 + 40);
    const events = w.local.secretsManager.events().map((e) => e.type);
    assert.deepEqual(events.slice(-2), ['RotationStarted', 'RotationSucceeded']);

    // A configuration test (RotateImmediately=false) runs testSecret only and changes nothing.
    await w.rotate(arn, { rotateImmediately: false });
    assert.equal(await valueAt(w, arn, 'AWSCURRENT'), current);
    assert.equal(await readEveryField(w, current), 110);

    // A second rotation reads the first one's version and moves everything again, once readers have had
    // the reader bound to follow the first promotion (before that, it is refused: test/lambda/promotion).
    w.clock.advance(w.config.readers.maxAgeMs + w.config.readers.marginMs);
    await w.rotate(arn);
    const third = await valueAt(w, arn, 'AWSCURRENT');
    assert.notEqual(third, current);
    assert.equal(await readEveryField(w, third), 110);
    const output = JSON.stringify(w.log.entries);
    for (const v of [FIRST_VALUE, current, third].flatMap((s) => Object.values(JSON.parse(s)) as string[])) {
      assert.ok(!output.includes(v), 'no secret value in the logs');
    }
  });
});

describe('a rotation abandoned by a value written by hand', () => {
  let w: LocalWorld;
  before(async () => {
    w = await startLocalWorld(configFor);
  });
  after(() => w.close());

  it('refuses to rotate again rather than strand the rows already moved', async () => {
    await seed(w, FIRST_VALUE, 10);
    const arn = await w.createSecret(FIRST_VALUE);
    // The rotation function dies in testSecret every time: setSecret has moved the rows by then.
    w.local.secretsManager.setInvoker(
      inProcessInvoker(async (event, context) => {
        if (event.Step === 'testSecret') throw new Error('killed');
        await w.rotation(event, context);
      }),
    );
    const abandoned = await w.rotate(arn);
    assert.deepEqual((await stages(w, arn))[abandoned], ['AWSPENDING']);
    await w.sm.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: FIRST_VALUE.replace('before', 'by-hand') }),
    );
    assert.equal((await stages(w, arn))[abandoned], undefined, 'the service dropped AWSPENDING');

    w.local.secretsManager.setInvoker(inProcessInvoker(w.rotation));
    // Past the reader bound of the value written by hand, so that the rows are what stops the rotation.
    w.clock.advance(w.config.readers.maxAgeMs + w.config.readers.marginMs);
    await w.rotate(arn);
    assert.equal(w.local.secretsManager.events().at(-1)?.type, 'RotationFailed');
    assert.ok(
      w.log.entries.some((e) => (e.fields as { error?: string } | undefined)?.error === 'StrandedRowsError'),
    );
  });
});

describe('pages against the Data API size limits', () => {
  let w: LocalWorld;
  before(async () => {
    w = await startLocalWorld(() => ({
      secretTemplate: { encryptionKey: { kind: 'aes-256' as const } },
      dataKeyField: 'encryptionKey',
      paging: { maxRows: 1000, maxBytes: 900 * 1024 },
      storedFields: [{ table: 'blobs', id: 'id', columns: ['payload'] }],
    }));
  });
  after(() => w.close());

  it('halves a page the Data API refuses as over 1 MiB and goes on', async () => {
    const first = JSON.stringify({ encryptionKey: Buffer.alloc(32, 5).toString('base64') });
    const key = dataKeyFromSecretString(first, 'encryptionKey', 'rk1');
    await w.db.execute('CREATE TABLE blobs (id bigint PRIMARY KEY, payload text)');
    // Small values first make the pages large; the big values after them overflow such a page.
    for (let i = 1; i <= 240; i++) {
      const plaintext = i <= 200 ? 'small' : 'x'.repeat(45_000);
      await w.db.execute('INSERT INTO blobs VALUES (:id, :v)', {
        id: i,
        v: codecFor('rk1').encrypt(Buffer.from(plaintext), key, { table: 'blobs', column: 'payload' }),
      });
    }
    const arn = await w.createSecret(first);
    await w.rotate(arn);
    assert.equal(w.local.secretsManager.events().at(-1)?.type, 'RotationSucceeded');
    const halvings = w.log.entries.filter((e) =>
      e.message.startsWith('page over the Data API response limit'),
    );
    assert.ok(halvings.length >= 1, 'at least one page was halved');
    const current = await valueAt(w, arn, 'AWSCURRENT');
    const next = dataKeyFromSecretString(current, 'encryptionKey', 'rk1');
    const r = await w.db.execute('SELECT COUNT(*) FROM blobs WHERE SUBSTRING(payload, 1, 13) = :p', {
      p: `rk1:${next.kid}:`,
    });
    assert.equal(Number(r.rows[0]?.[0]), 240);
  });
});
