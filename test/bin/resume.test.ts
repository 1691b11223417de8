import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { RK1_SECRET_A, RK1_SECRET_B } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, rk1World, type World } from './world.js';

const PENDING = 'cccccccc-0000-4000-8000-000000000001';

describe('rekey resume', () => {
  let w: World;
  beforeEach(async () => {
    w = await rk1World();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
  });

  it('drives a stuck rotation through the remaining steps with its token and promotes it', async () => {
    const current = w.secrets.versions[0]?.versionId;
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 4); // setSecret had got this far
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(w.secrets.stagesOf(PENDING), ['AWSCURRENT']);
    assert.deepEqual(w.secrets.stagesOf(current as string), ['AWSPREVIOUS']);
    assert.deepEqual([...(await w.prefixes())].sort(), [
      ['NULL', 2],
      [prefixOf(RK1_SECRET_B, w.config), 38],
    ]);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', new RegExp(`resuming the rotation of .*: version ${PENDING} is AWSPENDING`));
    assert.deepEqual(
      lines.slice(1, 5).map((l) => l.split(':')[0]),
      ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
    );
    assert.equal(lines[5], `rotation finished: version ${PENDING} is AWSCURRENT`);
    assertNoSecrets(r.all);
  });

  it('prints plain progress lines on stderr when stderr is not a terminal', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^setSecret: \d+\/38 rows \(\d+%\), data_sources\.options$/m);
    assert.match(r.stderr, /^setSecret: 38\/38 rows \(100%\), alerts\.destination$/m);
  });

  it('creates the pending value first when the service staged a version without one', async () => {
    w.secrets.add(undefined, ['AWSPENDING'], PENDING);
    const r = await rekey(['resume', ...w.args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).outcome, 'promoted');
    assert.deepEqual(w.secrets.stagesOf(PENDING), ['AWSCURRENT']);
    const prefixes = await w.prefixes();
    assert.equal(prefixes.get(prefixOf(RK1_SECRET_A, w.config)), undefined);
  });

  it('refuses with exit 4 when no rotation is pending', async () => {
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: RotationStateError: no rotation is pending .* nothing to resume\n$/);
  });

  it('exits 1 and leaves the rotation pending when testSecret finds a row it cannot read', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    await w.db.execute(`UPDATE tokens SET value = 's3cr3t-api-token' WHERE token_id = 'tok-0003'`);
    const r = await rekey(['resume', ...w.args]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: VerificationError: testSecret failed .*tokens\.value: 1 plaintext rows \(ids tok-0003\)/m,
    );
    assert.match(r.stdout, /stopped in testSecret; the rotation stays pending/);
    assert.deepEqual(w.secrets.stagesOf(PENDING), ['AWSPENDING']);
    assertNoSecrets(r.all);
  });

  it("writes the steps' JSON log lines to stderr with --verbose, still without a secret", async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], PENDING);
    const r = await rekey(['resume', ...w.args, '--verbose']);
    assert.equal(r.code, 0, r.stderr);
    const logs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    assert.ok(logs.some((l) => l.message === 'setSecret done' && l.versionId === PENDING));
    assert.ok(logs.some((l) => l.message === 'page' && typeof l.rows === 'number'));
    assertNoSecrets(r.all);
  });
});
