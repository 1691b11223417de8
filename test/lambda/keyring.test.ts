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
import { KeyRing } from '../../lambda/reader.js';
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
  } = {},
) {
  return KeyRing.load({
    client,
    secretId: 'app',
    codec: options.codec ?? 'rk1',
    dataKeyField: options.field ?? 'encryptionKey',
    clock: options.clock ?? fakeClock(),
    minRefreshIntervalMs: options.interval,
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
