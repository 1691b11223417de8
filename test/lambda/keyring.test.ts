import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { KeyRing } from '../../lambda/reader.js';
import { fakeClock } from '../support/fake-clock.js';
import { RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C } from '../support/fixtures.js';

const sm = mockClient(SecretsManagerClient);
const where = { table: 'data_sources', column: 'options' };
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });

function stage(values: Partial<Record<'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS', string>>): void {
  sm.on(GetSecretValueCommand).callsFake((input: { VersionStage: keyof typeof values }) => {
    const value = values[input.VersionStage];
    if (value === undefined) throw notFound();
    return { SecretString: value, VersionStages: [input.VersionStage] };
  });
}

const load = (clock = fakeClock()) =>
  KeyRing.load({
    client: new SecretsManagerClient({ region: 'us-east-1' }),
    secretId: 'app',
    dataKeyField: 'encryptionKey',
    clock,
  });

describe('the key ring', () => {
  beforeEach(() => sm.reset());

  it('encrypts with AWSCURRENT and decrypts values of every staged version', async () => {
    stage({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    const ring = await load();
    const stored = await ring.encrypt('{"password":"x"}', where);
    assert.equal(await ring.decryptString(stored, where), '{"password":"x"}');
    const old = await (async () => {
      sm.reset();
      stage({ AWSCURRENT: RK1_SECRET_A });
      return (await load()).encrypt('old', where);
    })();
    assert.equal(await ring.decryptString(old, where), 'old');
    assert.equal(ring.keyIds.length, 2);
  });

  it('reloads once on an unknown key id, then follows the rotation', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load(clock);
    sm.reset();
    stage({ AWSCURRENT: RK1_SECRET_C, AWSPREVIOUS: RK1_SECRET_A });
    const written = await (await load()).encrypt('new', where);
    clock.advance(60_000);
    assert.equal(await ring.decryptString(written, where), 'new');
    const prefix = written.slice(0, 13);
    assert.ok((await ring.encrypt('x', where)).startsWith(prefix), 'now encrypts with the new AWSCURRENT');
  });

  it('reloads at most once a minute, however many unknown values it meets', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load(clock);
    const calls = () => sm.commandCalls(GetSecretValueCommand).length;
    const before = calls();
    const foreign = 'rk1:AAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    await assert.rejects(ring.decrypt(foreign, where), { name: 'DecryptError', message: /key id AAAAAAAA/ });
    await assert.rejects(ring.decrypt(foreign, where), { name: 'DecryptError' });
    assert.equal(calls(), before, 'within the minute after loading, no reload');
    clock.advance(60_000);
    await assert.rejects(ring.decrypt(foreign, where));
    await assert.rejects(ring.decrypt(foreign, where));
    assert.equal(calls(), before + 3, 'one reload (three stages) after the minute');
  });

  it('refuses a plaintext value without echoing it', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const ring = await load();
    await assert.rejects(
      ring.decrypt('hunter2', where),
      (e: Error) => e.name === 'DecryptError' && !e.message.includes('hunter2'),
    );
  });

  it('fails clearly when the secret has no AWSCURRENT value', async () => {
    stage({});
    await assert.rejects(load(), {
      name: 'RotationStateError',
      message: 'secret app has no AWSCURRENT value',
    });
  });
});
