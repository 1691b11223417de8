import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { tableCodec } from '../../lambda/config.js';
import {
  inProcessInvoker,
  type KeySource,
  ReadLoop,
  type SingleKeyAppConfig,
  SingleKeyService,
} from '../../local/index.js';
import { PLAINTEXTS } from '../support/fixtures.js';
import { gate } from '../support/local-rotation.js';
import { type LocalWorld, startLocalWorld } from '../support/local-world.js';

const ROWS = 60;

const FIRST_VALUE = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 5).toString('base64'),
  redashSecretKey: 'the-redash-secret-key-before-rekey',
});

const configFor = () => ({
  secretTemplate: {
    encryptionKey: { kind: 'aes-256' as const },
    redashSecretKey: { kind: 'token' as const, length: 48 },
  },
  dataKeyField: 'encryptionKey',
  codec: 'rk1' as const,
  // Small pages, so the rotation moves each table in several steps.
  paging: { maxRows: 20 },
  storedFields: [
    {
      table: 'data_sources',
      id: 'id',
      columns: ['encrypted_options'],
      codec: 'fernet-sha256' as const,
      dataKeyField: 'redashSecretKey',
    },
    { table: 'app_rows', id: 'id', columns: ['payload'] },
  ],
});

async function seed(w: LocalWorld): Promise<void> {
  await w.db.execute('CREATE TABLE data_sources (id bigint PRIMARY KEY, encrypted_options bytea)');
  await w.db.execute('CREATE TABLE app_rows (id bigint PRIMARY KEY, payload text)');
  for (const t of w.config.storedFields) {
    const { codec, dataKeyField } = tableCodec(w.config, t);
    const key = dataKeyFromSecretString(FIRST_VALUE, dataKeyField, codec);
    const column = t.columns[0] as string;
    for (let i = 1; i <= ROWS; i++) {
      const value = codecFor(codec).encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), key, {
        table: t.table,
        column,
      });
      await w.db.execute(`INSERT INTO ${t.table} VALUES (:id, :v)`, {
        id: i,
        v: codec === 'rk1' ? value : Buffer.from(value, 'latin1'),
      });
    }
  }
}

/** Lets the test hold the rotation between setSecret (rows moved) and testSecret (promotion not yet). */
function holdAfterSetSecret(w: LocalWorld) {
  const held = gate();
  w.local.secretsManager.setInvoker(
    inProcessInvoker(async (event, context) => {
      await w.rotation(event, context);
      if (event.Step === 'setSecret') {
        held.arrive();
        await held.wait;
      }
    }),
  );
  return held;
}

async function track<T>(list: T[], started: Promise<T>): Promise<T> {
  const value = await started;
  list.push(value);
  return value;
}

/** Matches the n-th read from now on. */
const nthRead = (n: number) => {
  let seen = 0;
  return () => ++seen >= n;
};

/** Only yields: the loop reads back to back without sleeping real time. */
const yieldOnly = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('single-key apps restarted by the promotion hook', () => {
  let w: LocalWorld;
  let secretArn: string;
  const removeHooks: (() => void)[] = [];
  // Stopped after each test even when it failed or timed out, so no loop or process outlives the suite.
  const loops: ReadLoop[] = [];
  const services: SingleKeyService[] = [];
  afterEach(async () => {
    for (const remove of removeHooks.splice(0)) remove();
    await Promise.all(loops.splice(0).map((l) => l.stop()));
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });
  before(async () => {
    w = await startLocalWorld(configFor);
    await seed(w);
    secretArn = await w.createSecret(FIRST_VALUE);
  });
  after(() => w.close());

  const appFor = (
    key: KeySource,
    codec: SingleKeyAppConfig['codec'],
    table: string,
    column: string,
  ): Promise<SingleKeyService> =>
    track(
      services,
      SingleKeyService.start({
        secretsManager: w.local.secretsManager,
        secretId: secretArn,
        key,
        app: {
          codec,
          fields: [{ table, id: 'id', column }],
          dataApi: { ...w.local.dataApiTarget, engine: 'postgres' },
        },
        dataApiUrl: w.local.dataApiUrl,
      }),
    );

  it('counts the failed reads of a Redash-shaped app while the rotation runs, none after its restart, and the restarted app reads every row', {
    timeout: 120_000,
  }, async () => {
    const redash = await appFor(
      { env: 'REDASH_SECRET_KEY', field: 'redashSecretKey' },
      'fernet-sha256',
      'data_sources',
      'encrypted_options',
    );
    const rk1App = await appFor(
      { env: 'APP_SECRET', field: 'encryptionKey', inject: 'secret' },
      'rk1',
      'app_rows',
      'payload',
    );
    const firstKids = [redash.current().kid, rk1App.current().kid];
    removeHooks.push(
      w.local.secretsManager.onPromotion(redash.restartHook(), 'restart-redash'),
      w.local.secretsManager.onPromotion(rk1App.restartHook(), 'restart-rk1-app'),
    );
    const ids = Array.from({ length: ROWS }, (_, i) => i + 1);
    const redashLoop = new ReadLoop(
      redash,
      ids.map((id) => ({ table: 'data_sources', id })),
      yieldOnly,
    );
    const rk1Loop = new ReadLoop(
      rk1App,
      ids.map((id) => ({ table: 'app_rows', id })),
      yieldOnly,
    );
    loops.push(redashLoop, rk1Loop);
    const held = holdAfterSetSecret(w);
    const rotated = w.rotate(secretArn);

    // Every row is under the new key now, and the running processes still hold the old one.
    await held.reached;
    await Promise.all([
      redashLoop.until((r) => r.outcome === 'undecryptable'),
      rk1Loop.until((r) => r.outcome === 'undecryptable'),
    ]);
    for (const app of [redash, rk1App]) {
      const health = await app.health();
      assert.equal(health.generation, 0);
      assert.ok(health.counts.undecryptable > 0, 'the old process counts the reads it cannot decrypt');
    }
    assert.deepEqual(await redash.readAll('data_sources'), {
      rows: ROWS,
      undecryptable: ROWS,
      generation: 0,
    });
    held.open();

    const token = await rotated;
    await w.local.secretsManager.promotionHooksIdle();
    const restartedOk = (r: { outcome: string; generation: number }) =>
      r.outcome === 'ok' && r.generation === 1;
    await Promise.all([redashLoop.until(restartedOk), rk1Loop.until(restartedOk)]);
    // A round of reads of every row by the restarted processes, all of which must work.
    await Promise.all([redashLoop.until(nthRead(ROWS)), rk1Loop.until(nthRead(ROWS))]);
    const windows = await Promise.all([redashLoop.stop(), rk1Loop.stop()]);

    for (const [i, app] of [redash, rk1App].entries()) {
      const window = windows[i];
      assert.ok(window);
      assert.ok(window.failed > 0, 'a single-key app fails on moved rows until it restarts');
      assert.equal(window.restartedGeneration, 1);
      assert.equal(window.failedAfterRestart, 0);
      assert.equal(window.errors, 0, 'the rolling restart leaves no read without an answer');
      assert.ok(window.windowMs !== undefined && window.windowMs >= 0);
      const [first, second] = app.instances();
      assert.equal(app.instances().length, 2, 'restarted once, for the one promotion');
      assert.equal(second?.versionId, token);
      assert.equal(second?.promotion?.versionId, token);
      assert.notEqual(second?.kid, firstKids[i]);
      assert.ok(first?.stoppedAt !== undefined && second !== undefined && first.stoppedAt >= second.readyAt);
      assert.equal((await app.health()).counts.undecryptable, 0);
    }
    assert.deepEqual(await redash.readAll('data_sources'), { rows: ROWS, undecryptable: 0, generation: 1 });
    assert.deepEqual(await rk1App.readAll('app_rows'), { rows: ROWS, undecryptable: 0, generation: 1 });
    assert.deepEqual(
      w.local.secretsManager
        .promotionHookReports()
        .map((r) => `${r.hook} ${r.outcome}`)
        .sort(),
      ['restart-redash succeeded', 'restart-rk1-app succeeded'],
    );
  });

  it('keeps the old process serving when the new one cannot start with the new value, and says why without the value', {
    timeout: 60_000,
  }, async () => {
    const app = await appFor(
      { env: 'APP_SECRET', field: 'encryptionKey', inject: 'secret' },
      'rk1',
      'app_rows',
      'payload',
    );
    const unusable = 'not-an-aes-key';
    await w.sm.send(
      new PutSecretValueCommand({
        SecretId: secretArn,
        SecretString: JSON.stringify({ encryptionKey: unusable }),
      }),
    );
    const failed = await app.restart().then(
      () => undefined,
      (error: Error) => error,
    );
    assert.match(failed?.message ?? '', /exited with code 1: SecretFormatError: field 'encryptionKey'/);
    assert.ok(!failed?.message.includes(unusable));
    assert.equal(app.instances().length, 1);
    const read = await app.read('app_rows', 1);
    assert.deepEqual([read.outcome, read.generation], ['ok', 0]);
  });
});
