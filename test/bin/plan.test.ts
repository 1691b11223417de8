import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { encrypted } from '../support/census-suite.js';
import { RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { assertNoSecrets, prefixOf, ROTATION_LAMBDA_ARN, rk1World, type World } from './world.js';

describe('rekey plan', () => {
  let w: World;
  beforeEach(async () => {
    w = await rk1World();
    await w.put(RK1_SECRET_C, ['AWSCURRENT']);
    await w.put(RK1_SECRET_A, ['AWSCURRENT']); // C becomes AWSPREVIOUS
  });
  afterEach(() => w.close());

  it('prints rows by key version, the predicted calls per step, what each field invalidates and the census, and exits 0', async () => {
    const r = await rekey(['plan', ...w.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /data_sources\.extra\s+10\s+8\s+0\s+0\s+0\s+0\s+2/);
    assert.match(r.stdout, new RegExp(`current\\s+key ${prefixOf(RK1_SECRET_A, w.config)}`));
    assert.match(r.stdout, /^setSecret\s+3\s+8\s+4\s+4\s+0\s+19\s+38\s+1\.0 s$/m);
    assert.match(r.stdout, /^testSecret\s+3\s+16\s+4\s+0\s+\d+\s+\d+\s+38\s/m);
    assert.match(r.stdout, /^finishSecret\s+3\s+4\s+0\s+0\s+0\s+7\s+0\s/m);
    assert.match(r.stdout, /setSecret re-encrypts 38 rows/);
    assert.match(
      r.stdout,
      /encryptionKey \(aes-256, data key of data_sources \(rk1\), tokens \(rk1\), alerts \(rk1\)\)/,
    );
    assert.match(r.stdout, /cookieSecret \(token, signing secret/);
    assert.match(r.stdout, /nothing in rk1 or Fernet format outside the configured columns/);
    assert.match(r.stdout, /^No warnings\.$/m);
    assert.match(r.stdout, /Plan: nothing blocks a rotation\./);
    assertNoSecrets(r.all);
  });

  it('exits 1 and names the column when the census finds ciphertext under a staged key outside the config', async () => {
    await w.db.execute('CREATE TABLE exports (id bigint PRIMARY KEY, body text)');
    await w.db.execute('INSERT INTO exports VALUES (1, :a), (2, :b)', {
      a: encrypted('rk1', 'encryptionKey', RK1_SECRET_C, 'exports', 'body'),
      b: encrypted('rk1', 'encryptionKey', RK1_SECRET_C, 'exports', 'body', 1),
    });
    const r = await rekey(['plan', ...w.args]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /BLOCKS {2}public\.exports\.body: 2 rows under AWSPREVIOUS \(key id rk1:.{8}:\): not in storedFields/,
    );
    assert.match(
      r.stdout,
      /Plan: a rotation now would fail or leave values it cannot read later \(1 blocking\)/,
    );
    const json = JSON.parse((await rekey(['plan', ...w.args, '--json'])).stdout);
    assert.equal(json.blocked, true);
    assert.deepEqual(
      json.census.found.map((f: { table: string; column: string; label: string; rows: number }) => [
        f.table,
        f.column,
        f.label,
        f.rows,
      ]),
      [['exports', 'body', 'previous', 2]],
    );
    assertNoSecrets(r.all);
  });

  it('writes nothing: every stored byte and every stage are the same after it', async () => {
    await w.stuckRotation(RK1_SECRET_B);
    await w.move(RK1_SECRET_A, RK1_SECRET_B, 2);
    const everything = async () =>
      (await w.db.execute('SELECT id::text, options, extra FROM data_sources ORDER BY id')).rows
        .concat((await w.db.execute('SELECT token_id, value FROM tokens ORDER BY 1')).rows)
        .concat((await w.db.execute('SELECT uid::text, destination FROM alerts ORDER BY 1')).rows);
    const before = { rows: await everything(), stages: await w.stages() };
    const r = await rekey(['plan', ...w.args, '--full']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pending\s+key rk1:/);
    assert.deepEqual({ rows: await everything(), stages: await w.stages() }, before);
  });

  it('gives the whole plan as JSON, with the time at --latency-ms', async () => {
    const r = await rekey(['plan', ...w.args, '--json', '--latency-ms', '25']);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.model.latencyMs, 25);
    assert.equal(plan.steps.setSecret.timeMs.calls, plan.steps.setSecret.calls.total * 25);
    assert.deepEqual(Object.keys(plan.steps), ['setSecret', 'testSecret', 'finishSecret']);
    assert.equal(plan.total.current, 38);
    assert.equal(plan.warnings.length, 0);
    assertNoSecrets(r.all);
  });

  it("reads the secret's rotation schedule and warns when it is shorter than the reader bound", async () => {
    w.local.secretsManager.setInvoker(async () => {});
    await w.call('RotateSecret', {
      SecretId: w.secretId,
      RotationLambdaARN: ROTATION_LAMBDA_ARN,
      RotationRules: { ScheduleExpression: 'rate(4 hours)' },
      RotateImmediately: false,
    });
    await w.local.secretsManager.idle();
    w.local.secretsManager.setInvoker(undefined);
    const config = JSON.parse(
      await import('node:fs/promises').then((fs) => fs.readFile(w.configPath, 'utf8')),
    );
    config.readers = { maxAgeMs: 6 * 3_600_000, marginMs: 0 };
    const path = `${w.configPath}.slow-readers.json`;
    await import('node:fs/promises').then((fs) => fs.writeFile(path, JSON.stringify(config)));
    const r = await rekey(['plan', '--secret-id', w.secretId, '--config', path]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Schedule: rate\(4 hours\); rotations must be at least 6\.0 h apart/m);
    assert.match(r.stdout, /BLOCKS {2}the schedule \(rate\(4 hours\)\) rotates every 4 h/);
  });

  it('is listed in rekey --help, and its own help has examples', async () => {
    const r = await rekey(['--help']);
    assert.match(r.stdout, /^\s+plan\b.*before rotating/m);
    const own = await rekey(['plan', '--help']);
    assert.match(own.stdout, /--latency-ms <n>/);
    assert.match(own.stdout, /\$ rekey plan --config rekey\.json --latency-ms 25 --full/);
  });

  it('refuses a latency that is not a number with exit 2', async () => {
    const r = await rekey(['plan', ...w.args, '--latency-ms', 'fast']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--latency-ms.*must be a number of milliseconds/);
  });
});
