import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  REDASH_SECRET_A,
  REDASH_SECRET_B,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
} from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, redashWorld, rk1World, type World } from './world.js';

describe('rekey inventory', () => {
  let w: World;
  beforeEach(async () => {
    w = await rk1World();
    await w.put(RK1_SECRET_C, ['AWSCURRENT']);
    await w.put(RK1_SECRET_A, ['AWSCURRENT']); // C becomes AWSPREVIOUS
  });
  afterEach(() => w.close());

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
    await w.stuckRotation(RK1_SECRET_B);
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

  it('is read-only: the stored values and the secret stay as they were', async () => {
    const before = { rows: await w.snapshot(), stages: await w.stages() };
    const r = await rekey(['inventory', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual({ rows: await w.snapshot(), stages: await w.stages() }, before);
  });
});

describe('rekey inventory on Fernet tokens (Redash)', () => {
  let w: World;
  afterEach(() => w.close());

  it('classifies every value by the staged key whose HMAC verifies it, with progress on stderr', async () => {
    w = await redashWorld();
    await w.put(REDASH_SECRET_A, ['AWSCURRENT']);
    await w.stuckRotation(REDASH_SECRET_B);
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
    assert.match(r.stderr, /^inventory: \d+%, \S+: \d+ rows$/m);
    assert.match(r.stderr, /^inventory: \S+: \d+ rows done$/m);
    assertNoSecrets(r.all);
  });
});
