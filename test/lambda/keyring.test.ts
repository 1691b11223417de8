import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { beforeEach, describe, it } from 'node:test';
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { CodecName } from '../../lambda/config.js';
import { DEFAULT_READER_MAX_AGE_MS, KeyRing, StaleKeyRingError } from '../../lambda/reader.js';
import { fakeClock } from '../support/fake-clock.js';
import {
  REDASH_SECRET_A,
  REDASH_SECRET_B,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
} from '../support/fixtures.js';

type Stage = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });
const where = { table: 'data_sources', column: 'options' };
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });

/** Serves the given staged values; a stage left out answers ResourceNotFoundException, as the service does. */
function stage(values: Partial<Record<Stage, string>>): void {
  sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
    const value = values[input.VersionStage as Stage];
    if (value === undefined) throw notFound();
    return { SecretString: value, VersionStages: [input.VersionStage] };
  });
}

const calls = () => sm.commandCalls(GetSecretValueCommand).length;

function load(
  options: {
    clock?: ReturnType<typeof fakeClock>;
    codec?: CodecName;
    field?: string;
    interval?: number;
    maxAgeMs?: number;
  } = {},
) {
  return KeyRing.load({
    client,
    secretId: 'app',
    codec: options.codec ?? 'rk1',
    dataKeyField: options.field ?? 'encryptionKey',
    clock: options.clock ?? fakeClock(),
    minRefreshIntervalMs: options.interval,
    maxAgeMs: options.maxAgeMs,
  });
}

/** A value written by whoever holds `secret` as AWSCURRENT (another app instance, or the rotation). */
function writtenUnder(secret: string, plaintext: string, codec: CodecName = 'rk1', field = 'encryptionKey') {
  return codecFor(codec).encrypt(
    Buffer.from(plaintext),
    dataKeyFromSecretString(secret, field, codec),
    where,
  );
}

const kidOf = (secret: string) => dataKeyFromSecretString(secret, 'encryptionKey', 'rk1').kid;

describe('loading the key ring', () => {
  beforeEach(() => sm.reset());

  it('reads AWSCURRENT, AWSPENDING and AWSPREVIOUS of the secret', async () => {
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPENDING: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_A });
    const ring = await load();
    const inputs = sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input);
    assert.deepEqual(
      inputs.map((i) => [i.SecretId, i.VersionStage]),
      [
        ['app', 'AWSCURRENT'],
        ['app', 'AWSPENDING'],
        ['app', 'AWSPREVIOUS'],
      ],
    );
    assert.deepEqual(ring.keyIds, [kidOf(RK1_SECRET_B), kidOf(RK1_SECRET_C), kidOf(RK1_SECRET_A)]);
    assert.equal(ring.currentKeyId, kidOf(RK1_SECRET_B));
  });

  it('skips a pending or previous version that does not exist', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    assert.deepEqual(ring.keyIds, [kidOf(RK1_SECRET_A)]);
  });

  it('recognises ResourceNotFoundException by name, as thrown by another copy of the SDK', async () => {
    sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
      if (input.VersionStage === 'AWSCURRENT') return { SecretString: RK1_SECRET_A };
      throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
    });
    assert.deepEqual((await load()).keyIds, [kidOf(RK1_SECRET_A)]);
  });

  it('holds a key once when two versions share it', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A, AWSPREVIOUS: RK1_SECRET_A });
    assert.deepEqual((await load()).keyIds, [kidOf(RK1_SECRET_A)]);
  });

  it('leaves out a previous version whose data key field is missing or unusable', async () => {
    stage({
      AWSCURRENT: RK1_SECRET_A,
      AWSPENDING: JSON.stringify({ encryptionKey: 'not-a-key' }),
      AWSPREVIOUS: 'a value from before the secret was JSON',
    });
    assert.deepEqual((await load()).keyIds, [kidOf(RK1_SECRET_A)]);
  });

  it('fails clearly when the secret has no AWSCURRENT value', async () => {
    stage({ AWSPENDING: RK1_SECRET_A });
    await assert.rejects(load(), {
      name: 'RotationStateError',
      message: 'secret app has no AWSCURRENT value',
    });
  });

  it('names the field but never the value when AWSCURRENT holds no usable key', async () => {
    const bad = JSON.stringify({ encryptionKey: 'hunter2-is-not-a-key' });
    stage({ AWSCURRENT: bad });
    await assert.rejects(
      load(),
      (e: Error) =>
        e.name === 'SecretFormatError' &&
        e.message.includes("'encryptionKey'") &&
        !e.message.includes('hunter2') &&
        !String(e.cause ?? '').includes('hunter2'),
    );
  });

  it('refuses a binary AWSCURRENT secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await assert.rejects(load(), { name: 'SecretFormatError', message: /no SecretString/ });
  });

  it('passes on an error of Secrets Manager other than a missing version', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDeniedException' }),
    );
    await assert.rejects(load(), { name: 'AccessDeniedException' });
  });

  it('refuses a codec name that does not exist', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    await assert.rejects(load({ codec: 'aes' as CodecName }), { name: 'ConfigError' });
  });
});

describe('encrypting and decrypting with the key ring', () => {
  beforeEach(() => sm.reset());

  it('encrypts with AWSCURRENT', async () => {
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPENDING: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_A });
    const ring = await load();
    const stored = await ring.encrypt('{"password":"x"}', where);
    assert.ok(stored.startsWith(`rk1:${kidOf(RK1_SECRET_B)}:`));
    assert.equal(await ring.decryptString(stored, where), '{"password":"x"}');
    const bytes = await ring.encrypt(new Uint8Array([0, 255]), where);
    assert.deepEqual([...(await ring.decrypt(bytes, where))], [0, 255]);
  });

  it('decrypts values written under the pending and the previous version', async () => {
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPENDING: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_A });
    const ring = await load();
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_A, 'old'), where), 'old');
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_C, 'new'), where), 'new');
  });

  it('accepts a value read from a binary column as its bytes', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const stored = Buffer.from(await ring.encrypt('x', where), 'ascii');
    assert.equal(await ring.decryptString(stored, where), 'x');
  });

  it('refuses a value that was moved from another column', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const stored = await ring.encrypt('x', { table: 'data_sources', column: 'extra' });
    await assert.rejects(ring.decrypt(stored, where), {
      name: 'DecryptError',
      message: /fails authentication/,
    });
  });

  it('refuses a plaintext value without reloading and without echoing it', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const before = calls();
    await assert.rejects(
      ring.decrypt('hunter2', where),
      (e: Error) =>
        e.name === 'DecryptError' && /is not encrypted/.test(e.message) && !e.message.includes('hunter2'),
    );
    assert.equal(calls(), before);
  });

  it('refuses a damaged rk1 value without reloading', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const stored = await ring.encrypt('x', where);
    const before = calls();
    await assert.rejects(ring.decrypt(stored.slice(0, 20), where), {
      name: 'DecryptError',
      message: 'value in data_sources.options starts with rk1: but is damaged',
    });
    assert.equal(calls(), before);
  });

  it('decrypts Fernet values by HMAC, Python tokens of a Redash secret included', async () => {
    const python = JSON.parse(
      readFileSync(new URL('../support/fixtures/python-fernet.json', import.meta.url), 'utf8'),
    ) as { sqlalchemy_utils: { secret: string; cases: { plaintext: string; token: string }[] } };
    stage({
      AWSCURRENT: REDASH_SECRET_B,
      AWSPREVIOUS: JSON.stringify({ secretKey: python.sqlalchemy_utils.secret }),
    });
    const ring = await load({ codec: 'fernet-sha256', field: 'secretKey' });
    for (const c of python.sqlalchemy_utils.cases)
      assert.equal(await ring.decryptString(c.token, where), c.plaintext);
    const stored = await ring.encrypt('{"password":"x"}', where);
    assert.equal(
      Buffer.from(codecFor('fernet-sha256').decrypt(stored, fernetKey(REDASH_SECRET_B), where)).toString(),
      '{"password":"x"}',
    );
  });
});

const fernetKey = (secret: string) => dataKeyFromSecretString(secret, 'secretKey', 'fernet-sha256');

describe('following a rotation', () => {
  beforeEach(() => sm.reset());

  it('reloads when it meets an unknown key id, then decrypts it and encrypts with the new AWSCURRENT', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_A });
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_C, 'new'), where), 'new');
    assert.equal(calls(), 3, 'one reload: three stages');
    assert.ok((await ring.encrypt('x', where)).startsWith(`rk1:${kidOf(RK1_SECRET_C)}:`));
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_A, 'old'), where), 'old');
  });

  it('reloads at once after loading: rows moved to a pending key right after start are read', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_A, AWSPENDING: RK1_SECRET_B });
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_B, 'moved'), where), 'moved');
  });

  it('reloads at most once per interval, however many unknown values it meets', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load({ clock });
    const foreign = writtenUnder(RK1_SECRET_C, 'x');
    const before = calls();
    await assert.rejects(ring.decrypt(foreign, where), {
      name: 'DecryptError',
      message: new RegExp(
        `no version staged AWSCURRENT, AWSPENDING or AWSPREVIOUS holds \\(key id ${kidOf(RK1_SECRET_C)}\\)`,
      ),
    });
    assert.equal(calls(), before + 3, 'the first unknown value reloads');
    await assert.rejects(ring.decrypt(foreign, where), { name: 'DecryptError' });
    clock.advance(59_999);
    await assert.rejects(ring.decrypt(foreign, where), { name: 'DecryptError' });
    assert.equal(calls(), before + 3, 'no second reload within the minute');
    clock.advance(1);
    await assert.rejects(ring.decrypt(foreign, where), { name: 'DecryptError' });
    assert.equal(calls(), before + 6, 'another reload once the minute is over');
  });

  it('honours a configured refresh interval', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load({ clock, interval: 5_000 });
    const foreign = writtenUnder(RK1_SECRET_C, 'x');
    await assert.rejects(ring.decrypt(foreign, where));
    const after = calls();
    clock.advance(4_999);
    await assert.rejects(ring.decrypt(foreign, where));
    assert.equal(calls(), after);
    clock.advance(1);
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_C });
    assert.equal(await ring.decryptString(foreign, where), 'x');
  });

  it('shares one reload between concurrent reads of unknown values', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    const values = ['a', 'b', 'c', 'd'].map((p) => writtenUnder(RK1_SECRET_B, p));
    const read = await Promise.all(values.map((v) => ring.decryptString(v, where)));
    assert.deepEqual(read, ['a', 'b', 'c', 'd']);
    assert.equal(calls(), 3);
  });

  it('does not reload for a tampered value under a key it holds', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const stored = await ring.encrypt('x', where);
    const tampered = `${stored.slice(0, -2)}${stored.at(-2) === 'A' ? 'B' : 'A'}${stored.at(-1)}`;
    const before = calls();
    await assert.rejects(ring.decrypt(tampered, where), {
      name: 'DecryptError',
      message: /fails authentication/,
    });
    assert.equal(calls(), before);
  });

  it('reloads a Fernet ring when no key verifies the token', async () => {
    stage({ AWSCURRENT: REDASH_SECRET_A });
    const ring = await load({ codec: 'fernet-sha256', field: 'secretKey' });
    sm.reset();
    stage({ AWSCURRENT: REDASH_SECRET_A, AWSPENDING: REDASH_SECRET_B });
    const moved = writtenUnder(REDASH_SECRET_B, 'moved', 'fernet-sha256', 'secretKey');
    assert.equal(await ring.decryptString(moved, where), 'moved');
    assert.equal(ring.keyIds.length, 2);
  });

  it('keeps its keys and reports a DecryptError with the cause when the reload fails', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('throttled'), { name: 'ThrottlingException' }),
    );
    await assert.rejects(ring.decrypt(writtenUnder(RK1_SECRET_B, 'x'), where), (e: Error) => {
      assert.equal(e.name, 'DecryptError');
      assert.match(e.message, /reloading the ring failed/);
      assert.equal((e.cause as Error).name, 'ThrottlingException');
      return true;
    });
    assert.equal(await ring.decryptString(await ring.encrypt('still', where), where), 'still');
  });

  it('reloads on request, and keeps its keys when that fails', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    await ring.refresh();
    assert.equal(ring.currentKeyId, kidOf(RK1_SECRET_B));
    sm.reset();
    stage({});
    await assert.rejects(ring.refresh(), { name: 'RotationStateError' });
    assert.equal(ring.currentKeyId, kidOf(RK1_SECRET_B));
  });
});

describe('key ring errors', () => {
  beforeEach(() => sm.reset());

  it('never carry a key, a secret value or a plaintext', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    const forbidden = [
      RK1_SECRET_A,
      ...[RK1_SECRET_A, RK1_SECRET_B].map((s) => (JSON.parse(s) as { encryptionKey: string }).encryptionKey),
      'hunter2',
    ];
    const failures: Promise<unknown>[] = [
      ring.decrypt('{"password":"hunter2"}', where),
      ring.decrypt(writtenUnder(RK1_SECRET_B, '{"password":"hunter2"}'), where),
      ring.decrypt(await ring.encrypt('{"password":"hunter2"}', where), { table: 't', column: 'c' }),
    ];
    for (const failure of failures) {
      await assert.rejects(failure, (e: Error) => {
        const all = `${e.message} ${String(e.cause ?? '')}`;
        for (const s of forbidden) assert.ok(!all.includes(s), `reveals a secret: ${e.message}`);
        return true;
      });
    }
  });
});

const HOUR = 60 * 60 * 1000;
/** The key id an rk1 value was written under. */
const kidIn = (stored: string) => stored.split(':')[1];
const throttled = () => Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
/** Lets pending promise callbacks run (a macrotask turn; no time passes on any clock). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Serves the given staged values only once `open` is called, as a slow Secrets Manager would. */
function stageLater(values: Partial<Record<Stage, string>>): { open(): void } {
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  sm.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => {
    await gate;
    const value = values[input.VersionStage as Stage];
    if (value === undefined) throw notFound();
    return { SecretString: value, VersionStages: [input.VersionStage] };
  });
  return { open };
}

/** Issue 10, case 1: a ring loaded while the next version was AWSPENDING, then the stages move. */
async function loadedDuringSetSecret(clock: ReturnType<typeof fakeClock>, maxAgeMs?: number) {
  stage({ AWSCURRENT: RK1_SECRET_A, AWSPENDING: RK1_SECRET_B });
  const ring = await load({ clock, maxAgeMs });
  assert.deepEqual(ring.keyIds, [kidOf(RK1_SECRET_A), kidOf(RK1_SECRET_B)], 'holds current and pending');
  sm.reset();
  stage({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A }); // finishSecret promotes B
  return ring;
}

describe('keeping the reader contract', () => {
  beforeEach(() => sm.reset());

  it('makes a write-only ring loaded during setSecret encrypt with the promoted key once its keys are maxAgeMs old', async () => {
    const clock = fakeClock();
    const ring = await loadedDuringSetSecret(clock);
    clock.advance(HOUR / 2);
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_A),
      'within the bound it may still write with the old AWSCURRENT',
    );
    assert.equal(calls(), 0);
    clock.advance(HOUR / 2);
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_B),
      'at maxAgeMs it writes with the promoted key',
    );
    assert.equal(ring.currentKeyId, kidOf(RK1_SECRET_B));
  });

  it('makes a ring that reads only values under keys it holds follow two promotions', async () => {
    const clock = fakeClock();
    const ring = await loadedDuringSetSecret(clock);
    const old = writtenUnder(RK1_SECRET_A, 'old');
    const moved = writtenUnder(RK1_SECRET_B, 'moved');
    for (let minutes = 10; minutes < 48; minutes += 10) {
      clock.advance(10 * 60_000);
      assert.equal(await ring.decryptString(old, where), 'old');
      assert.equal(await ring.decryptString(moved, where), 'moved');
    }
    assert.equal(calls(), 0, 'no reload before the refresh-ahead point: every key id is known');
    clock.advance(HOUR - 40 * 60_000);
    assert.equal(await ring.decryptString(old, where), 'old', 'reading goes on with held keys');
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_B),
      'writes with the new AWSCURRENT',
    );

    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_B }); // the next rotation unstages A
    clock.advance(HOUR);
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_C),
      'writes with the new AWSCURRENT',
    );
    assert.deepEqual(ring.keyIds, [kidOf(RK1_SECRET_C), kidOf(RK1_SECRET_B)]);
  });

  it('honours a configured maxAgeMs', async () => {
    const clock = fakeClock();
    const ring = await loadedDuringSetSecret(clock, 10 * 60_000);
    assert.equal(ring.maxAgeMs, 10 * 60_000);
    clock.advance(10 * 60_000);
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_B),
      'writes with the new AWSCURRENT',
    );
  });

  it('defaults maxAgeMs to the contract default of one hour', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    assert.equal(ring.maxAgeMs, DEFAULT_READER_MAX_AGE_MS);
    assert.equal(DEFAULT_READER_MAX_AGE_MS, HOUR);
  });

  it('reloads in the background from 80% of maxAgeMs, without holding up encrypt or decrypt', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load({ clock });
    sm.reset();
    const slow = stageLater({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    clock.advance(0.8 * HOUR - 1);
    await ring.encrypt('x', where);
    assert.equal(calls(), 0, 'no reload before 80% of maxAgeMs');

    clock.advance(1);
    const reloadStartedAt = clock.now();
    const written = await Promise.race([ring.encrypt('x', where), settle().then(() => 'waited')]);
    assert.equal(kidIn(written), kidOf(RK1_SECRET_A), 'answers at once, with the held key');
    assert.equal(calls(), 3, 'a reload has started');
    clock.advance(1_000);
    const read = await Promise.race([
      ring.decryptString(writtenUnder(RK1_SECRET_A, 'old'), where),
      settle().then(() => 'waited'),
    ]);
    assert.equal(read, 'old');
    assert.equal(calls(), 3, 'later calls share the reload in flight');

    slow.open();
    await settle();
    assert.equal(
      kidIn(await ring.encrypt('x', where)),
      kidOf(RK1_SECRET_B),
      'writes with the new AWSCURRENT',
    );
    assert.equal(ring.loadedAt, reloadStartedAt, 'dated from when the reload started');
    assert.equal(calls(), 3);
  });

  it('reloads once more for a value under an unknown key when the reload in flight began before that key was staged', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load({ clock });
    sm.reset();
    // A background reload starts while only A is staged, and answers slowly.
    const slow = stageLater({ AWSCURRENT: RK1_SECRET_A });
    clock.advance(0.8 * HOUR);
    await ring.encrypt('x', where);
    assert.equal(calls(), 3, 'a background reload is in flight');
    // Meanwhile a rotation stages B as AWSPENDING and moves a row to it; this instance reads the row.
    const read = ring.decryptString(writtenUnder(RK1_SECRET_B, 'moved'), where);
    await settle();
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_A, AWSPENDING: RK1_SECRET_B });
    slow.open();
    assert.equal(await read, 'moved');
    assert.equal(calls(), 3, 'one more reload, after the one in flight');
  });

  it('keeps its keys when a background reload fails, with no unhandled rejection, and retries after minRefreshIntervalMs', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load({ clock });
    const loadedAt = ring.loadedAt;
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(throttled());
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      clock.advance(0.8 * HOUR);
      assert.equal(kidIn(await ring.encrypt('x', where)), kidOf(RK1_SECRET_A), 'goes on with the held key');
      await settle();
      assert.equal(calls(), 3);
      assert.equal(ring.lastRefreshFailedAt, clock.now());
      assert.equal(ring.loadedAt, loadedAt, 'the old keys and their date are kept');
      clock.advance(59_999);
      await ring.encrypt('x', where);
      await ring.decrypt(writtenUnder(RK1_SECRET_A, 'x'), where);
      assert.equal(calls(), 3, 'no retry within minRefreshIntervalMs of the failure');
      clock.advance(1);
      await ring.encrypt('x', where);
      await settle();
      assert.equal(calls(), 6, 'retried once the interval is over');
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('refuses to encrypt once its keys are maxAgeMs old and Secrets Manager fails, and still decrypts with held keys', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A, AWSPREVIOUS: RK1_SECRET_C });
    const clock = fakeClock();
    const ring = await load({ clock });
    const mine = await ring.encrypt('{"password":"hunter2"}', where);
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(throttled());
    clock.advance(HOUR);
    await assert.rejects(ring.encrypt('{"password":"hunter2"}', where), (e: Error) => {
      assert.ok(e instanceof StaleKeyRingError, 'a StaleKeyRingError');
      assert.equal(e.name, 'StaleKeyRingError');
      assert.equal((e.cause as Error).name, 'ThrottlingException');
      assert.equal(e.secretId, 'app');
      assert.equal(e.loadedAt, clock.now() - HOUR);
      assert.equal(e.ageMs, HOUR);
      assert.equal(e.maxAgeMs, HOUR);
      assert.match(
        e.message,
        /^key ring for secret app refuses to encrypt: its keys were loaded 3600000 ms ago/,
      );
      const key = (JSON.parse(RK1_SECRET_A) as { encryptionKey: string }).encryptionKey;
      for (const s of [key, RK1_SECRET_A, 'hunter2'])
        assert.ok(!e.message.includes(s), 'must not reveal a secret');
      return true;
    });
    assert.equal(calls(), 3, 'it tried to reload first');
    assert.equal(await ring.decryptString(mine, where), '{"password":"hunter2"}');
    assert.equal(await ring.decryptString(writtenUnder(RK1_SECRET_C, 'older'), where), 'older');

    await assert.rejects(ring.encrypt('x', where), { name: 'StaleKeyRingError' });
    assert.equal(calls(), 3, 'a write right after a failed reload fails without piling on');
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    clock.advance(60_000);
    assert.equal(kidIn(await ring.encrypt('x', where)), kidOf(RK1_SECRET_B), 'recovers');
  });

  it('shares one reload between concurrent calls once its keys are maxAgeMs old', async () => {
    const clock = fakeClock();
    const ring = await loadedDuringSetSecret(clock);
    clock.advance(HOUR);
    const written = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((p) => ring.encrypt(p, where)));
    const read = await ring.decryptString(writtenUnder(RK1_SECRET_A, 'old'), where);
    assert.deepEqual(written.map(kidIn), Array(5).fill(kidOf(RK1_SECRET_B)), 'all under the new key');
    assert.equal(read, 'old');
    assert.equal(calls(), 3, 'one reload: three stages');
  });

  it('dates its keys from when the fetch started, not when it ended', async () => {
    const clock = fakeClock();
    sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
      clock.advance(2_000); // a slow answer
      if (input.VersionStage !== 'AWSCURRENT') throw notFound();
      return { SecretString: RK1_SECRET_A };
    });
    const start = clock.now();
    const ring = await load({ clock });
    assert.equal(ring.loadedAt, start);
    const again = clock.now();
    await ring.refresh();
    assert.equal(ring.loadedAt, again);
  });

  it('refuses a maxAgeMs that is not a positive number', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    for (const maxAgeMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(load({ maxAgeMs }), {
        name: 'ConfigError',
        message: `KeyRing maxAgeMs must be a positive number of milliseconds, got ${maxAgeMs}`,
      });
    }
  });
});
