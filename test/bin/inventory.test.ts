import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  REDASH_SECRET_A,
  REDASH_SECRET_B,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
} from '../support/fixtures.js';
import { dataApiMock, secretsManagerMock } from './fake-aws.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, redashWorld, rk1World, type World } from './world.js';

describe('rekey inventory', () => {
  let w: World;
  beforeEach(async () => {
    w = await rk1World();
    w.secrets.add(RK1_SECRET_C, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']); // C becomes AWSPREVIOUS
  });

  it('counts rows per column by key version, NULLs included, and names nothing secret', async () => {
    const r = await rekey(['inventory', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /data_sources\.options\s+10\s+10\s+0\s+0\s+0\s+0\s+0/);
    assert.match(r.stdout, /data_sources\.extra\s+10\s+8\s+0\s+0\s+0\s+0\s+2/);
    assert.match(r.stdout, /total\s+40\s+38\s+0\s+0\s+0\s+0\s+2/);
    assert.match(r.stdout, new RegExp(`current\\s+key ${prefixOf(RK1_SECRET_A, w.config)}`));
    assert.match(r.stdout, new RegExp(`previous\\s+key ${prefixOf(RK1_SECRET_C, w.config)}`));
    assert.match(r.stdout, /A rotation re-encrypts 38 values/);
    assertNoSecrets(r.all);
  });

  it('shows rows already under the pending key, under the previous key, plaintext and unknown keys', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], 'pending-version');
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 3);
    await w.move(RK1_SECRET_A, RK1_SECRET_C, 1);
    await w.db.execute(`UPDATE tokens SET value = 'not encrypted' WHERE token_id = 'tok-0010'`);
    await w.db.execute(
      `UPDATE alerts SET destination = 'rk1:deadbeef:AAAA' WHERE uid = '00000000-0000-4000-8000-000000000010'`,
    );
    const r = await rekey(['inventory', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.keys.map((k: { label: string }) => k.label),
      ['current', 'pending', 'previous'],
    );
    const { current, pending, previous, plaintext, unknown, nulls, unknownKeys } = report.total;
    assert.deepEqual(
      { current, pending, previous, plaintext, unknown, nulls },
      { current: 20, pending: 12, previous: 4, plaintext: 1, unknown: 1, nulls: 2 },
    );
    assert.deepEqual(unknownKeys, { 'rk1:deadbeef:': 1 });
    assertNoSecrets(r.all);
  });

  it('is read-only: no write to the secret and no UPDATE in the database', async () => {
    await rekey(['inventory', ...w.args]);
    assert.equal(secretsManagerMock.commandCalls(PutSecretValueCommand).length, 0);
    assert.equal(secretsManagerMock.commandCalls(UpdateSecretVersionStageCommand).length, 0);
    assert.ok(secretsManagerMock.commandCalls(GetSecretValueCommand).length > 0);
    const statements = dataApiMock
      .commandCalls(ExecuteStatementCommand)
      .map((c) => c.args[0].input.sql ?? '');
    assert.ok(statements.length > 0);
    assert.ok(
      statements.every((sql) => /^\s*SELECT/i.test(sql)),
      statements.join('\n'),
    );
  });
});

describe('rekey inventory on Fernet tokens (Redash)', () => {
  it('classifies every value by the staged key whose HMAC verifies it, with progress on stderr', async () => {
    const w = await redashWorld();
    w.secrets.add(REDASH_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(REDASH_SECRET_B, ['AWSPENDING'], 'pending-version');
    await w.move(REDASH_SECRET_A, REDASH_SECRET_B, 3);
    await w.db.execute(`UPDATE data_sources SET encrypted_options = NULL WHERE id = 5`);
    const r = await rekey(['inventory', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    const { current, pending, previous, plaintext, unknown, nulls } = report.total;
    assert.deepEqual(
      { current, pending, previous, plaintext, unknown, nulls },
      { current: 13, pending: 6, previous: 0, plaintext: 0, unknown: 0, nulls: 1 },
    );
    assert.equal(report.columns[0].codec, 'fernet-sha256');
    assert.match(r.stderr, /^inventory: \d+\/19 rows/m);
    assertNoSecrets(r.all);
  });
});
