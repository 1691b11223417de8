import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { parseConfig, readConfig } from '../../lambda/config.js';
import { quoteIdentifier } from '../../lambda/dialects.js';
import { ConfigError, EventError, VerificationError } from '../../lambda/errors.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { ROTATION_STEPS } from '../../lambda/rotation-event.js';
import { rotationFunction } from '../../lambda/rotation-function.js';
import { runStep } from '../../lambda/steps.js';
import { Hygiene, PLAINTEXT_MARKER } from '../support/chaos-hygiene.js';
import { assertPromotedOnce, startChaosLocal } from '../support/chaos-local.js';
import {
  CHAOS_DATA_API,
  CHAOS_TEMPLATE,
  ChaosWorld,
  chaosSecret,
  seededRandom,
} from '../support/chaos-world.js';
import { fakeClock } from '../support/fake-clock.js';
import { SECRET_ARN } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const hygiene = new Hygiene('hostile and odd input');
const TOKEN = 'a0a0a0a0-2222-4333-8444-555555555555';
let tried = 0;

after(() => {
  hygiene.report({ hostile: tried, lost: 0 });
  hygiene.assertClean();
});

const BASE_CONFIG = {
  secretTemplate: CHAOS_TEMPLATE,
  dataKeyField: 'encryptionKey',
  storedFields: [{ table: 'rekey_chaos_h_t', id: 'id', columns: ['v'] }],
  dataApi: CHAOS_DATA_API,
};

describe('malformed events and configuration', () => {
  const events: unknown[] = [
    null,
    undefined,
    'createSecret',
    42,
    [],
    {},
    { Step: 'createSecret' },
    { Step: 'dropSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
    { Step: 'createSecret', SecretId: '', ClientRequestToken: TOKEN },
    { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: 7 },
    { Step: 'createSecret', SecretId: 'x'.repeat(5000), ClientRequestToken: TOKEN },
    { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN, RotationToken: '' },
    { Step: "setSecret'; DROP TABLE x; --", SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
    { action: 'drop' },
    { action: 'sweep', SecretId: 12 },
    { Step: ['createSecret'], SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
  ];

  it('refuses every malformed event with an EventError, before any call', async () => {
    const secrets = new MemorySecrets(SECRET_ARN);
    const clock = fakeClock();
    const fn = rotationFunction({
      config: parseConfig(BASE_CONFIG),
      secrets,
      db: {
        dialect: 'postgres',
        execute: () => Promise.reject(new Error('no SQL expected')),
        begin: () => Promise.reject(new Error('no SQL expected')),
        commit: () => Promise.resolve(),
        rollback: () => Promise.resolve(),
      },
      clock,
      log: hygiene.log(),
    });
    for (const event of events) {
      await assert.rejects(fn(event, { getRemainingTimeInMillis: () => 60_000 }), (e: Error) => {
        hygiene.captureError(e);
        return e instanceof EventError;
      });
      tried++;
    }
    assert.deepEqual(secrets.calls, {}, 'no call reached Secrets Manager');
  });

  const configs: Record<string, unknown>[] = [
    { ...BASE_CONFIG, storedFields: [{ table: 'users; DROP TABLE users; --', id: 'id', columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't', id: 'id', columns: ['v" = NULL; --'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't', id: "id' OR '1'='1", columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't', schema: 'public"."x', id: 'id', columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: '1t', id: 'id', columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't`x', id: 'id', columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't', id: 'id', columns: [] }] },
    { ...BASE_CONFIG, storedFields: [{ table: 't', id: 'v', columns: ['v'] }] },
    { ...BASE_CONFIG, storedFields: [] },
    { ...BASE_CONFIG, paging: { maxRows: 'abc' } },
    { ...BASE_CONFIG, paging: { maxRows: 0 } },
    { ...BASE_CONFIG, codec: 'rot13' },
    { ...BASE_CONFIG, dataKeyField: 'noSuchField' },
    { ...BASE_CONFIG, dataKeyField: 'appSecretKey' },
    { ...BASE_CONFIG, extra: true },
    { ...BASE_CONFIG, dataApi: { ...CHAOS_DATA_API, resourceArn: 'not-an-arn' } },
    { ...BASE_CONFIG, dataApi: { ...CHAOS_DATA_API, database: 'test; DROP DATABASE test' } },
    { ...BASE_CONFIG, secretTemplate: { encryptionKey: { kind: 'aes-128' } } },
  ];

  it('refuses every malformed configuration with a ConfigError naming the field', () => {
    for (const input of configs) {
      assert.throws(
        () => parseConfig(input),
        (e: Error) => {
          hygiene.captureError(e);
          return e instanceof ConfigError;
        },
      );
      tried++;
    }
    for (const raw of [undefined, '', '{', 'null', '[]', JSON.stringify({ ...BASE_CONFIG, codec: 1 })]) {
      assert.throws(
        () => readConfig({ REKEY_CONFIG: raw }),
        (e: Error) => {
          hygiene.captureError(e);
          return e instanceof ConfigError;
        },
      );
      tried++;
    }
    for (const name of ['x"; DROP TABLE y; --', 'a b', '', 'x'.repeat(64), 'ünïcode']) {
      assert.throws(() => quoteIdentifier('postgres', name), ConfigError);
      assert.throws(() => quoteIdentifier('mysql', name), ConfigError);
      tried++;
    }
  });
});

describe('plaintext, undecryptable and tampered stored values', () => {
  let db: SqlRunner;
  let world: ChaosWorld;
  const first = chaosSecret('hostile-first');
  const stranger = chaosSecret('hostile-stranger');
  hygiene.forbidSecret(first);
  hygiene.forbidSecret(stranger);

  before(async () => {
    db = await pgliteRunner();
    world = new ChaosWorld(db, 'rekey_chaos_h_');
    await world.create();
  });

  /** Seeds the world, then spoils four rows: plaintext, Fernet plaintext, a stranger's key, a bad tag. */
  const spoiled = async () => {
    await world.seed(first);
    const key = dataKeyFromSecretString(first, 'encryptionKey', 'rk1');
    const tokens = `${world.prefix}tokens`;
    const good = codecFor('rk1').encrypt(Buffer.from(`${PLAINTEXT_MARKER}tampered`), key, {
      table: tokens,
      column: 'value',
    });
    const tampered = `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const strangerValue = codecFor('fernet').encrypt(
      Buffer.from(`${PLAINTEXT_MARKER}stranger`),
      dataKeyFromSecretString(stranger, 'fernetKey', 'fernet'),
      { table: `${world.prefix}fernet`, column: 'options' },
    );
    const spoils: [string, string, string, string][] = [
      [`${world.prefix}sources`, 'options', 'id', `${PLAINTEXT_MARKER}never encrypted`],
      [`${world.prefix}fernet`, 'options', 'id', strangerValue],
      [tokens, 'value', 'token_id', tampered],
      [`${world.prefix}alerts`, 'destination', 'uid', 'not-a-token'],
    ];
    const ids: string[] = [];
    for (const [table, column, id, value] of spoils) {
      const r = await db.execute(`SELECT ${id} FROM ${table} ORDER BY ${id} LIMIT 1`);
      const rowId = String(r.rows[0]?.[0]);
      const cast = id === 'uid' ? 'CAST(:id AS uuid)' : id === 'id' ? 'CAST(:id AS bigint)' : ':id';
      await db.execute(`UPDATE ${table} SET ${column} = :v WHERE ${id} = ${cast}`, { v: value, id: rowId });
      ids.push(`${table}/${column}/${rowId}`);
      tried++;
    }
    const secrets = new MemorySecrets(SECRET_ARN);
    secrets.add(first, ['AWSCURRENT']);
    secrets.add(undefined, ['AWSPENDING'], TOKEN);
    return { secrets, ids, values: spoils.map((s) => s[3]) };
  };

  const rotate = async (secrets: MemorySecrets, policies?: { plaintext: 'skip'; undecryptable: 'skip' }) => {
    const clock = fakeClock();
    const config = policies ? parseConfig({ ...world.config, policies }) : world.config;
    for (const Step of ROTATION_STEPS) {
      await runStep(
        { Step, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
        {
          secrets,
          db,
          clock,
          log: hygiene.log(),
          config,
          deadline: clock.now() + 900_000,
          random: seededRandom('hostile-pending'),
        },
      );
    }
  };

  const storedAt = async (ref: string) => {
    const [table, column, id] = ref.split('/') as [string, string, string];
    const idColumn = table.endsWith('tokens') ? 'token_id' : table.endsWith('alerts') ? 'uid' : 'id';
    const r = await db.execute(`SELECT ${column} FROM ${table} WHERE CAST(${idColumn} AS text) = :id`, {
      id,
    });
    return r.rows[0]?.[0];
  };

  it('fails testSecret naming ids (never values), promotes nothing, and leaves those rows alone', async () => {
    const { secrets, ids, values } = await spoiled();
    await assert.rejects(rotate(secrets), (e: Error) => {
      hygiene.captureError(e);
      return (
        e instanceof VerificationError &&
        /plaintext rows/.test(e.message) &&
        /no staged version can decrypt/.test(e.message)
      );
    });
    assert.equal(secrets.valueAt('AWSCURRENT'), first, 'nothing promoted');
    for (const [i, ref] of ids.entries()) assert.equal(await storedAt(ref), values[i], `${ref} untouched`);
  });

  it('with both policies set to skip, rotates every other row and still leaves those rows alone', async () => {
    const { secrets, ids, values } = await spoiled();
    await rotate(secrets, { plaintext: 'skip', undecryptable: 'skip' });
    const current = secrets.valueAt('AWSCURRENT') as string;
    hygiene.forbidSecret(current);
    assert.notEqual(current, first, 'promoted');
    for (const [i, ref] of ids.entries()) assert.equal(await storedAt(ref), values[i], `${ref} untouched`);
  });
});

describe('a page over the Data API 1 MiB response limit', () => {
  it('is halved until it fits, and the rotation completes with every field moved', async () => {
    const c = await startChaosLocal('pglite', hygiene, { prefix: 'rekey_chaos_m_', rows: 7, maxRows: 1000 });
    try {
      const first = chaosSecret('big-first');
      hygiene.forbidSecret(first);
      await c.world.seed(first);
      // 300 small rows then 30 of about 60 KB: the page size guessed from the average takes in every
      // large row at once (about 1.8 MB).
      const table = `${c.world.prefix}tokens`;
      const key = dataKeyFromSecretString(first, 'encryptionKey', 'rk1');
      for (let i = 0; i < 330; i++) {
        const big = i >= 300;
        const plaintext = `${PLAINTEXT_MARKER}${big ? 'b'.repeat(45_000) : 'small'} ${i}`;
        const id = `tok-z${String(i).padStart(5, '0')}`;
        const v = codecFor('rk1').encrypt(Buffer.from(plaintext), key, { table, column: 'value' });
        await c.world.db.execute(`INSERT INTO ${table} (token_id, value) VALUES (:id, :v)`, { id, v });
        c.world.noteWrite(table, 'value', id, plaintext, true);
      }
      const { arn, firstId } = await c.createSecret(first);
      c.local.dataApi.resetStats();
      const rotation = await c.rotate(arn);
      const current = (await c.valueAt(arn, 'AWSCURRENT')) as string;
      hygiene.forbidSecret(current);
      await assertPromotedOnce(c, arn, firstId, rotation, 'big page');
      assert.ok(
        c.local.dataApi.stats().errors > 0,
        'the Data API refused at least one response as too large',
      );
      await c.world.assertIntact([current], 'big page');
      tried++;
    } finally {
      await c.close();
    }
  });
});

describe('the hygiene check itself', () => {
  it('finds a key, a whole secret value and a plaintext planted in captured output', () => {
    const probe = new Hygiene('probe');
    const secret = chaosSecret('hygiene-probe');
    probe.forbidSecret(secret);
    const key = Buffer.from(dataKeyFromSecretString(secret, 'encryptionKey', 'rk1').material).toString('hex');
    probe.capture(`{"message":"page","note":"${key}"}`);
    probe.capture(`Error: bad value ${PLAINTEXT_MARKER}x`);
    probe.capture(JSON.stringify({ v: JSON.parse(secret).fernetKey }));
    assert.throws(() => probe.assertClean(), /secret material/);
    const clean = new Hygiene('clean probe');
    clean.forbidSecret(secret);
    clean.capture('{"message":"page","rows":3}');
    clean.assertClean();
  });
});
