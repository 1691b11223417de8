import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, rk1World, type World } from './world.js';

describe('rekey resume', () => {
  let w: World;
  let current: string;
  beforeEach(async () => {
    w = await rk1World();
    current = await w.put(RK1_SECRET_A, ['AWSCURRENT']);
  });
  afterEach(() => w.close());

  it('drives a stuck rotation through the remaining steps with its token and promotes it', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 4); // setSecret had got this far
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await w.stagesOf(pending), ['AWSCURRENT']);
    assert.deepEqual(await w.stagesOf(current), ['AWSPREVIOUS']);
    assert.deepEqual(await w.countBy({ pending: RK1_SECRET_B }), { pending: 38, NULL: 2 });
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', new RegExp(`resuming the rotation of .*: version ${pending} is AWSPENDING`));
    assert.deepEqual(
      lines.slice(1, 5).map((l) => l.split(':')[0]),
      ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
    );
    assert.equal(lines[5], `rotation finished: version ${pending} is AWSCURRENT`);
    assertNoSecrets(r.all);
  });

  it("prints plain progress lines on stderr when stderr is not a terminal, counting each table's rows", async () => {
    await w.stuckRotation(RK1_SECRET_B);
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^setSecret: \d+%, data_sources\.options: \d+ rows$/m);
    // data_sources has 10 rows in two encrypted columns (two NULLs in extra): rows, not 18 values.
    assert.match(r.stderr, /^setSecret: data_sources\.options: 10 rows done$/m);
    assert.match(r.stderr, /^setSecret: data_sources\.extra: 8 rows done$/m);
    assert.match(r.stderr, /^setSecret: 100%, alerts\.destination: 10 rows$/m);
    assert.match(r.stderr, /^testSecret: alerts\.destination: 10 rows done$/m);
  });

  it('creates the pending value first when createSecret had failed', async () => {
    const pending = await w.stuckRotation(undefined);
    const r = await rekey(['resume', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).outcome, 'promoted');
    assert.deepEqual(await w.stagesOf(pending), ['AWSCURRENT']);
    assert.equal((await w.countBy({ old: RK1_SECRET_A })).old, undefined);
  });

  it('refuses with exit 4 when no rotation is pending', async () => {
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: RotationStateError: no rotation is pending .* nothing to resume\n$/);
  });

  it('exits 1 and leaves the rotation pending when testSecret finds a row it cannot read', async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    await w.db.execute(`UPDATE tokens SET value = 's3cr3t-api-token' WHERE token_id = 'tok-0003'`);
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: VerificationError: testSecret failed .*tokens\.value: 1 plaintext rows \(ids tok-0003\)/m,
    );
    assert.match(r.stdout, /stopped in testSecret; the rotation stays pending/);
    assert.deepEqual(await w.stagesOf(pending), ['AWSPENDING']);
    assertNoSecrets(r.all);
  });

  it("writes the steps' JSON log lines to stderr with --verbose, still without a secret", async () => {
    const pending = await w.stuckRotation(RK1_SECRET_B);
    const r = await rekey(['resume', ...w.args, '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    const logs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.message === 'setSecret done' && l.versionId === pending));
    assert.ok(logs.some((l) => l.message === 'page' && typeof l.rows === 'number'));
    assertNoSecrets(r.all);
  });
});
