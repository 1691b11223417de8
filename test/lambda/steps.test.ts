import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { memoryLog } from '../../lambda/log.js';
import type { SqlRunner } from '../../lambda/ports.js';
import type { RotationStep } from '../../lambda/rotation-event.js';
import { runStep, runSweep, type StepDeps } from '../../lambda/steps.js';
import { fakeClock } from '../support/fake-clock.js';
import {
  keyOf,
  PLAINTEXTS,
  REDASH_SECRET_A,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
  redashConfig,
  rk1Config,
  SECRET_ARN,
  seedRedash,
  seedRk1,
} from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';
import { recordingRunner } from '../support/recording-runner.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';
const ROWS = 12;

interface World {
  secrets: MemorySecrets;
  db: Awaited<ReturnType<typeof pgliteRunner>>;
  clock: ReturnType<typeof fakeClock>;
  log: ReturnType<typeof memoryLog>;
  config: RekeyConfig;
  deps: (overrides?: Partial<StepDeps>) => StepDeps;
  step: (step: RotationStep, overrides?: Partial<StepDeps>) => Promise<void>;
}

async function world(
  config = rk1Config(),
  seed: (db: SqlRunner, c: RekeyConfig) => Promise<void> = (db, c) => seedRk1(db, c, RK1_SECRET_A, ROWS),
): Promise<World> {
  const secrets = new MemorySecrets(SECRET_ARN);
  const db = await pgliteRunner();
  const clock = fakeClock();
  const log = memoryLog();
  await seed(db, config);
  const deps = (overrides: Partial<StepDeps> = {}): StepDeps => ({
    secrets,
    db,
    clock,
    log,
    config,
    deadline: clock.now() + 15 * 60_000,
    ...overrides,
  });
  return {
    secrets,
    db,
    clock,
    log,
    config,
    deps,
    step: (step, overrides) =>
      runStep({ Step: step, SecretId: SECRET_ARN, ClientRequestToken: TOKEN }, deps(overrides)),
  };
}

/** Every stored value of every configured column, with the kid it is under ('-' for NULL). */
async function kidsOf(w: World): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const t of w.config.storedFields) {
    for (const c of t.columns) {
      const r = await w.db.execute(`SELECT ${c} FROM ${t.table}`);
      for (const [v] of r.rows) {
        const kid = v === null ? '-' : (String(v).split(':')[1] ?? '?');
        counts.set(kid, (counts.get(kid) ?? 0) + 1);
      }
    }
  }
  return counts;
}

/** Decrypts every stored value with the key of `secret`; returns the plaintexts. */
async function decryptAll(w: World, secret: string): Promise<string[]> {
  const codec = codecFor(w.config.codec);
  const key = keyOf(secret, w.config);
  const out: string[] = [];
  for (const t of w.config.storedFields) {
    for (const c of t.columns) {
      const r = await w.db.execute(`SELECT ${c} FROM ${t.table} WHERE ${c} IS NOT NULL`);
      for (const [v] of r.rows) {
        const text = v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v);
        out.push(Buffer.from(codec.decrypt(text, key, { table: t.table, column: c })).toString());
      }
    }
  }
  return out;
}

describe('the checks before every step', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
  });

  it('refuses a secret whose rotation is disabled, with the service template wording', async () => {
    w.secrets.rotationEnabled = false;
    await assert.rejects(w.step('createSecret'), {
      name: 'RotationStateError',
      message: `Secret ${SECRET_ARN} is not enabled for rotation`,
    });
  });

  it('tolerates a DescribeSecret answer without RotationEnabled', async () => {
    w.secrets.rotationEnabled = undefined;
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    assert.ok(w.secrets.valueAt('AWSPENDING'));
  });

  it('refuses a token that is not a version of the secret', async () => {
    await assert.rejects(w.step('createSecret'), {
      message: `Secret version ${TOKEN} has no stage for rotation of secret ${SECRET_ARN}.`,
    });
  });

  it('returns without doing anything when the token is already AWSCURRENT', async () => {
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT'], TOKEN);
    const before = await kidsOf(w);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const)
      await w.step(step);
    assert.deepEqual(await kidsOf(w), before);
    assert.equal(w.secrets.calls.putPending, undefined);
  });

  it('refuses a token that is not staged AWSPENDING', async () => {
    w.secrets.add(RK1_SECRET_B, [], TOKEN);
    w.secrets.versions.at(-1)?.stages.push('SOMETHING');
    await assert.rejects(w.step('setSecret'), {
      message: `Secret version ${TOKEN} not set as AWSPENDING for rotation of secret ${SECRET_ARN}.`,
    });
  });
});

describe('createSecret', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
  });

  it('generates every template field once and stages it AWSPENDING under the token', async () => {
    w.secrets.add(JSON.stringify({ ...JSON.parse(RK1_SECRET_A), appSetting: 'kept' }), ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    const pending = JSON.parse(w.secrets.valueAt('AWSPENDING') ?? '{}');
    assert.equal(Buffer.from(pending.encryptionKey, 'base64').length, 32);
    assert.equal(pending.cookieSecret.length, 64);
    assert.notEqual(pending.encryptionKey, JSON.parse(RK1_SECRET_A).encryptionKey);
    assert.equal(pending.appSetting, 'kept');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
  });

  it('never generates twice for one token', async () => {
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    const first = w.secrets.valueAt('AWSPENDING');
    await w.step('createSecret');
    assert.equal(w.secrets.valueAt('AWSPENDING'), first);
    assert.equal(w.secrets.calls.putPending, 1);
  });

  it('passes the RotationToken on to PutSecretValue', async () => {
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await runStep(
      { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN, RotationToken: 'rt-1' },
      w.deps(),
    );
    assert.deepEqual(w.secrets.rotationTokens, ['rt-1']);
  });

  it('refuses an AWSCURRENT value that does not match the template, naming the field only', async () => {
    w.secrets.add(JSON.stringify({ encryptionKey: 'short', cookieSecret: 'x' }), ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await assert.rejects(w.step('createSecret'), (error: Error) => {
      assert.equal(error.name, 'SecretFormatError');
      assert.match(error.message, /field 'encryptionKey'/);
      assert.doesNotMatch(error.message, /short/);
      return true;
    });
  });
});

describe('setSecret', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
  });

  it('moves every stored field of two tables and several columns to the pending key, NULLs untouched', async () => {
    await w.step('setSecret');
    const kids = await kidsOf(w);
    const pendingKid = keyOf(RK1_SECRET_B, w.config).kid;
    assert.deepEqual([...kids.keys()].sort(), ['-', pendingKid].sort());
    assert.equal(kids.get('-'), (ROWS / 5) | 0);
    const plain = await decryptAll(w, RK1_SECRET_B);
    assert.equal(plain.length, ROWS * 4 - ((ROWS / 5) | 0));
    assert.ok(plain.every((p) => PLAINTEXTS.includes(p)));
  });

  it('rewrites nothing when run again', async () => {
    await w.step('setSecret');
    const recording = recordingRunner(w.db);
    const statements = recording.sent;
    await w.step('setSecret', { db: recording });
    assert.ok(statements.length > 0);
    assert.deepEqual(
      statements.filter((sql) => sql.startsWith('UPDATE')),
      [],
    );
  });

  it('stops before the deadline with "not finished" and resumes where it stopped', async () => {
    const config = rk1Config({ paging: { maxRows: 5, maxBytes: 512 * 1024 }, safetyMarginMs: 1000 });
    const small = await world(config);
    small.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    small.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    // Each Data API call "takes" 100 ms of the fake clock; the deadline allows only a few pages.
    const slow: SqlRunner = {
      ...small.db,
      execute: async (sql, params) => {
        small.clock.advance(100);
        return small.db.execute(sql, params);
      },
    };
    await assert.rejects(small.step('setSecret', { db: slow, deadline: small.clock.now() + 3000 }), {
      name: 'NotFinishedError',
      message: /^not finished: \d+ of 46 rows done/,
    });
    const pendingKid = keyOf(RK1_SECRET_B, config).kid;
    const partial = (await kidsOf(small)).get(pendingKid) ?? 0;
    assert.ok(partial > 0 && partial < 46, `some rows done, got ${partial}`);
    await small.step('setSecret');
    assert.equal((await kidsOf(small)).get(pendingKid), 46);
  });

  it('leaves a row that the app changed meanwhile untouched, then re-reads and moves it', async () => {
    const codec = codecFor(w.config.codec);
    const appValue = codec.encrypt(Buffer.from('written by the app'), keyOf(RK1_SECRET_A, w.config), {
      table: 'tokens',
      column: 'value',
    });
    let raced = false;
    const racing: SqlRunner = {
      ...w.db,
      execute: async (sql, params) => {
        if (!raced && sql.startsWith('UPDATE') && sql.includes('"tokens"')) {
          raced = true;
          await w.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0003'", { v: appValue });
        }
        return w.db.execute(sql, params);
      },
    };
    await w.step('setSecret', { db: racing });
    assert.ok(raced);
    const [[stored]] = (await w.db.execute("SELECT value FROM tokens WHERE token_id = 'tok-0003'")).rows as [
      [string],
    ];
    const pendingKey = keyOf(RK1_SECRET_B, w.config);
    assert.ok(stored.startsWith(`rk1:${pendingKey.kid}:`));
    assert.equal(
      Buffer.from(codec.decrypt(stored, pendingKey, { table: 'tokens', column: 'value' })).toString(),
      'written by the app',
    );
    const conflicts = w.log.entries.reduce(
      (s, e) => s + ((e.fields as { conflicts?: number })?.conflicts ?? 0),
      0,
    );
    assert.ok(conflicts >= 1);
  });

  it('reads rows under AWSPREVIOUS too', async () => {
    const three = await world();
    three.secrets.add(RK1_SECRET_C, ['AWSCURRENT']);
    three.secrets.add(RK1_SECRET_A, ['AWSCURRENT']); // C becomes AWSPREVIOUS
    three.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    const codec = codecFor(three.config.codec);
    const v = codec.encrypt(Buffer.from('old'), keyOf(RK1_SECRET_C, three.config), {
      table: 'tokens',
      column: 'value',
    });
    await three.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0001'", { v });
    await three.step('setSecret');
    assert.deepEqual(
      [...(await kidsOf(three)).keys()].sort(),
      ['-', keyOf(RK1_SECRET_B, three.config).kid].sort(),
    );
  });

  it('refuses to go on when stored rows use a key no staged version holds', async () => {
    const codec = codecFor(w.config.codec);
    const v = codec.encrypt(Buffer.from('stranded'), keyOf(RK1_SECRET_C, w.config), {
      table: 'tokens',
      column: 'value',
    });
    await w.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0001'", { v });
    const before = await kidsOf(w);
    await assert.rejects(w.step('setSecret'), {
      name: 'StrandedRowsError',
      message: /tokens\.value: 1 rows under key id/,
    });
    assert.deepEqual(await kidsOf(w), before, 'nothing was rewritten');
  });

  it('fails before touching anything when a configured column does not exist', async () => {
    const bad = rk1Config({ storedFields: [{ table: 'tokens', id: 'token_id', columns: ['nope'] }] });
    await assert.rejects(w.step('setSecret', { config: bad }), {
      name: 'ConfigError',
      message: /column 'nope' does not exist in table 'tokens'/,
    });
  });
});

describe('testSecret', () => {
  let w: World;
  beforeEach(async () => {
    w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
  });

  it('passes after setSecret and catches up rows the app wrote since', async () => {
    await w.step('setSecret');
    const codec = codecFor(w.config.codec);
    const v = codec.encrypt(Buffer.from('late write'), keyOf(RK1_SECRET_A, w.config), {
      table: 'tokens',
      column: 'value',
    });
    await w.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0002'", { v });
    await w.step('testSecret');
    assert.deepEqual([...(await kidsOf(w)).keys()].sort(), ['-', keyOf(RK1_SECRET_B, w.config).kid].sort());
  });

  it('pauses at most once, not before every later statement, after a throttle in its census', async () => {
    await w.step('setSecret');
    let throttled = false;
    let statements = 0;
    const db: SqlRunner = {
      ...w.db,
      execute: async (sql, params, options) => {
        statements++;
        // The census's first count: the pages have not begun, so none can end the pause.
        if (!throttled && sql.includes('COUNT(*)')) {
          throttled = true;
          throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
        }
        return w.db.execute(sql, params, options);
      },
    };
    const before = w.clock.slept.length;
    await w.step('testSecret', { db, retry: { attempts: 3, baseMs: 1, maxMs: 1 } });
    const slept = w.clock.slept.slice(before).filter((ms) => ms >= 100);
    assert.ok(throttled && statements > 10, `a census of several statements ran (${statements})`);
    // The statements in flight beside the throttled one may end the pause before anything waits on it.
    assert.ok(slept.length <= 1, `at most one pressure pause, ended by statements that succeeded: ${slept}`);
  });

  /** A runner on which the app writes `tok-0002` under `secret`'s key once the catch-up pass is over. */
  function appWritesAfterCatchUp(secret: string): SqlRunner {
    let written = false;
    return {
      ...w.db,
      execute: async (sql, params) => {
        // The full read's first page: it waits for the catch-up, and reads every value (no SUBSTRING
        // filter, unlike the catch-up's pages).
        if (!written && sql.includes(' AS v FROM ') && !sql.includes('SUBSTRING')) {
          written = true;
          const v = codecFor(w.config.codec).encrypt(Buffer.from('app write'), keyOf(secret, w.config), {
            table: 'tokens',
            column: 'value',
          });
          await w.db.execute("UPDATE tokens SET value = :v WHERE token_id = 'tok-0002'", { v });
        }
        return w.db.execute(sql, params);
      },
    };
  }

  it('passes rows the app wrote under AWSCURRENT after the catch-up pass, with a warning: promotion keeps them readable', async () => {
    await w.step('setSecret');
    await w.step('testSecret', { db: appWritesAfterCatchUp(RK1_SECRET_A) });
    assert.ok(w.log.entries.some((e) => e.level === 'warn' && /written under AWSCURRENT/.test(e.message)));
    assert.equal((await kidsOf(w)).get(keyOf(RK1_SECRET_A, w.config).kid), 1);
  });

  it('fails on rows under a key older than AWSCURRENT, which promotion would strand', async () => {
    w.secrets.add(RK1_SECRET_C, ['AWSPREVIOUS']);
    await w.step('setSecret');
    await assert.rejects(w.step('testSecret', { db: appWritesAfterCatchUp(RK1_SECRET_C) }), {
      name: 'VerificationError',
      message: /tokens\.value: 1 rows still under an older key than AWSCURRENT \(ids tok-0002\)/,
    });
  });

  it('passes a configuration test where setSecret never ran and pending equals current', async () => {
    const t = await world();
    t.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    t.secrets.add(RK1_SECRET_A, ['AWSPENDING'], TOKEN);
    const before = await kidsOf(t);
    await t.step('testSecret');
    assert.deepEqual(await kidsOf(t), before);
  });

  it('fails on plaintext and undecryptable rows with counts and ids, never values', async () => {
    await w.step('setSecret');
    await w.db.execute("UPDATE tokens SET value = 's3cr3t-api-token' WHERE token_id = 'tok-0004'");
    await w.db.execute(`UPDATE data_sources SET extra = :v WHERE id = 2000`, {
      v: `rk1:${keyOf(RK1_SECRET_B, w.config).kid}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    });
    await assert.rejects(w.step('testSecret'), (error: Error) => {
      assert.equal(error.name, 'VerificationError');
      assert.match(error.message, /tokens\.value: 1 plaintext rows \(ids tok-0004\)/);
      assert.match(error.message, /data_sources\.extra: 1 rows no staged version can decrypt \(ids 2000\)/);
      assert.doesNotMatch(error.message, /s3cr3t/);
      return true;
    });
  });

  it('reports but passes plaintext rows when the policy says skip', async () => {
    await w.step('setSecret');
    await w.db.execute("UPDATE tokens SET value = 'not encrypted' WHERE token_id = 'tok-0004'");
    await w.step('testSecret', {
      config: rk1Config({ policies: { plaintext: 'skip', undecryptable: 'fail' } }),
    });
    const done = w.log.entries.find((e) => e.message.startsWith('testSecret: every stored field'));
    assert.equal((done?.fields as { plaintext?: number } | undefined)?.plaintext, 1);
  });
});

describe('finishSecret', () => {
  it('moves AWSCURRENT to the token, AWSPREVIOUS to the old version, drops AWSPENDING, and is idempotent', async () => {
    const w = await world();
    const old = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    w.secrets.tags['rekey:verified'] = TOKEN; // testSecret passed
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.deepEqual(w.secrets.stagesOf(old), ['AWSPREVIOUS']);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.equal(w.secrets.calls.moveStage, 2);
    assert.equal(w.secrets.calls.tag, 1);
  });

  it('removes a leftover AWSPENDING from a version already promoted', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT', 'AWSPENDING'], TOKEN);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
  });
});

describe('a whole rotation', () => {
  it('rotates Redash-shaped Fernet BYTEA columns with the sqlalchemy-utils key derivation', async () => {
    const config = redashConfig();
    const w = await world(config, (db, c) => seedRedash(db, c, REDASH_SECRET_A, 7));
    w.secrets.add(REDASH_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const)
      await w.step(step);
    const current = w.secrets.valueAt('AWSCURRENT') as string;
    assert.notEqual(current, REDASH_SECRET_A);
    const plain = await decryptAll(w, current);
    assert.equal(plain.length, 14);
    // A second pass has nothing to do: Fernet rows are classified by HMAC and skipped.
    const w2 = w.deps();
    await runSweep({ action: 'sweep' }, w2);
  });

  it('keeps every secret value, key and plaintext out of logs and errors', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const)
      await w.step(step);
    const errors: string[] = [];
    await w.db.execute("UPDATE tokens SET value = 's3cr3t-api-token' WHERE token_id = 'tok-0001'");
    await runStep({ Step: 'testSecret', SecretId: SECRET_ARN, ClientRequestToken: 'nope' }, w.deps()).catch(
      (e: Error) => errors.push(`${e.name}: ${e.message}`),
    );
    const output = JSON.stringify(w.log.entries) + errors.join('\n');
    const secrets = [RK1_SECRET_A, w.secrets.valueAt('AWSCURRENT') as string].flatMap(
      (s) => Object.values(JSON.parse(s)) as string[],
    );
    for (const needle of [...secrets, ...PLAINTEXTS])
      assert.ok(!output.includes(needle), 'a secret reached the log');
  });
});

describe('sweep', () => {
  it('moves stragglers under AWSPREVIOUS to AWSCURRENT and does nothing during a rotation', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    const currentKid = keyOf(RK1_SECRET_B, w.config).kid;
    const pendingId = w.secrets.add(RK1_SECRET_C, ['AWSPENDING']);
    assert.equal(await runSweep({ action: 'sweep' }, w.deps()), undefined);
    assert.equal((await kidsOf(w)).get(currentKid), undefined);
    w.secrets.versions.splice(
      w.secrets.versions.findIndex((v) => v.versionId === pendingId),
      1,
    );
    const report = await runSweep({ action: 'sweep' }, w.deps());
    assert.equal(report?.done, ROWS * 4 - ((ROWS / 5) | 0));
    assert.deepEqual([...(await kidsOf(w)).keys()].sort(), ['-', currentKid].sort());
  });

  it('goes on when the pending version has no value yet (a rotation refused before createSecret put one)', async () => {
    const w = await world();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING']);
    const report = await runSweep({ action: 'sweep' }, w.deps());
    assert.equal(report?.done, ROWS * 4 - ((ROWS / 5) | 0));
  });
});
