// Tests that pin down the safety checks where mutation testing (stryker.conf.mjs, `npm run mutation`)
// found that no other test would notice a change: each one fails with the mutant it was written for.
import assert from 'node:assert/strict';
import { createCipheriv, createHmac } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { abortRotation, STATEMENT_ALLOWANCE_MS } from '../../lambda/abort.js';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { CodecName, RekeyConfig } from '../../lambda/config.js';
import { memoryLog } from '../../lambda/log.js';
import { reencrypt } from '../../lambda/passes/reencrypt.js';
import { incompleteRead } from '../../lambda/passes/verify.js';
import type { SecretDescription, SecretVersionListing, SqlRunner } from '../../lambda/ports.js';
import { KeyRing, StaleKeyRingError } from '../../lambda/reader.js';
import type { RotationStep } from '../../lambda/rotation-event.js';
import { MARK_TAGS, promotedTag, readMarks } from '../../lambda/rotation-marks.js';
import { guardedRunner, stageProblem } from '../../lambda/stage-guard.js';
import { runStep, type StepDeps } from '../../lambda/steps.js';
import { fakeClock } from '../support/fake-clock.js';
import {
  keyOf,
  REDASH_SECRET_A,
  REDASH_SECRET_B,
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
import { hookedRunner } from '../support/recording-runner.js';

const HOUR = 3_600_000;
/** The default reader bound (one hour) plus its margin (five minutes). */
const BOUND = HOUR + 5 * 60_000;
const TOKEN = '11111111-2222-4333-8444-555555555555';

// ---------------------------------------------------------------------------------------------------
// The key ring's reloads (lambda/keyring.ts)
// ---------------------------------------------------------------------------------------------------

type Stage = 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';
const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });
const where = { table: 'data_sources', column: 'options' };
const notFound = () => new ResourceNotFoundException({ message: 'not found', $metadata: {} });
const throttled = () => Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
const calls = () => sm.commandCalls(GetSecretValueCommand).length;
/** Lets pending promise callbacks run (a macrotask turn; no time passes on any clock). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const kidOf = (secret: string) => dataKeyFromSecretString(secret, 'encryptionKey', 'rk1').kid;
const kidIn = (stored: string) => stored.split(':')[1];

function answer(values: Partial<Record<Stage, string>>, input: GetSecretValueCommandInput) {
  const value = values[input.VersionStage as Stage];
  if (value === undefined) throw notFound();
  return { SecretString: value, VersionStages: [input.VersionStage as string] };
}

function stage(values: Partial<Record<Stage, string>>): void {
  sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => answer(values, input));
}

/** Serves the given staged values only once `open` is called, as a slow Secrets Manager would. */
function stageLater(values: Partial<Record<Stage, string>>): { open(): void } {
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  sm.on(GetSecretValueCommand).callsFake(async (input: GetSecretValueCommandInput) => {
    await gate;
    return answer(values, input);
  });
  return { open };
}

function load(clock: ReturnType<typeof fakeClock>, codec: CodecName = 'rk1', field = 'encryptionKey') {
  return KeyRing.load({ client, secretId: 'app', codec, dataKeyField: field, clock });
}

function writtenUnder(secret: string, plaintext: string, codec: CodecName = 'rk1', field = 'encryptionKey') {
  return codecFor(codec).encrypt(
    Buffer.from(plaintext),
    dataKeyFromSecretString(secret, field, codec),
    where,
  );
}

describe('the key ring reloads no more than it must, and never writes with keys past maxAgeMs', () => {
  beforeEach(() => sm.reset());

  it('reads a value under a new key through the background reload in flight, without reloading again', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load(clock);
    sm.reset();
    // The background reload starts once B is staged AWSPENDING, and answers slowly.
    const slow = stageLater({ AWSCURRENT: RK1_SECRET_A, AWSPENDING: RK1_SECRET_B });
    clock.advance(0.8 * HOUR);
    await ring.encrypt('x', where);
    assert.equal(calls(), 3, 'a background reload is in flight');
    const read = ring.decryptString(writtenUnder(RK1_SECRET_B, 'moved'), where);
    await settle();
    slow.open();
    assert.equal(await read, 'moved');
    assert.equal(calls(), 3, 'the reload in flight brought the key: no second reload');
  });

  it('waits for a reload already under way after a failed one, instead of failing the write at once', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load(clock);
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(throttled());
    clock.advance(HOUR);
    await assert.rejects(ring.encrypt('x', where), { name: 'StaleKeyRingError' });
    // Secrets Manager recovers; the app asks for a reload of its own, and writes while it runs.
    sm.reset();
    const slow = stageLater({ AWSCURRENT: RK1_SECRET_B, AWSPREVIOUS: RK1_SECRET_A });
    const reload = ring.refresh();
    const written = ring.encrypt('x', where);
    await settle();
    slow.open();
    await reload;
    assert.equal(kidIn(await written), kidOf(RK1_SECRET_B), 'written under the reloaded AWSCURRENT');
  });

  it('gives up after two reloads that each end maxAgeMs after they began, rather than write with keys that old', async () => {
    stage({ AWSCURRENT: RK1_SECRET_A });
    const clock = fakeClock();
    const ring = await load(clock);
    sm.reset();
    // Each reload takes exactly maxAgeMs, so the keys it brings are already maxAgeMs old; past two
    // reloads Secrets Manager fails, which the ring would report as the cause.
    let served = 0;
    sm.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => {
      served++;
      if (served > 6) throw throttled();
      if (input.VersionStage === 'AWSCURRENT') clock.advance(HOUR);
      return answer({ AWSCURRENT: RK1_SECRET_B }, input);
    });
    clock.advance(HOUR);
    await assert.rejects(ring.encrypt('x', where), (e: Error) => {
      assert.ok(e instanceof StaleKeyRingError);
      assert.equal(e.cause, undefined, 'both reloads succeeded; their keys were too old');
      assert.equal(e.ageMs, HOUR);
      return true;
    });
    assert.equal(calls(), 6, 'two reloads of three stages');
  });

  it('names the unknown key id of an rk1 value, and none for a Fernet token that no key verifies', async () => {
    const clock = fakeClock();
    stage({ AWSCURRENT: RK1_SECRET_A });
    const rk1 = await load(clock);
    await assert.rejects(rk1.decrypt(writtenUnder(RK1_SECRET_B, 'x'), where), {
      name: 'DecryptError',
      message: new RegExp(`holds \\(key id ${kidOf(RK1_SECRET_B)}\\)$`),
    });
    sm.reset();
    stage({ AWSCURRENT: REDASH_SECRET_A });
    const fernet = await load(clock, 'fernet-sha256', 'secretKey');
    await assert.rejects(
      fernet.decrypt(writtenUnder(REDASH_SECRET_B, 'x', 'fernet-sha256', 'secretKey'), where),
      {
        name: 'DecryptError',
        message: /AWSCURRENT, AWSPENDING or AWSPREVIOUS holds$/,
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// rekey's marks on the secret (lambda/rotation-marks.ts)
// ---------------------------------------------------------------------------------------------------

describe('rekey reads the marks on a secret as every rekey release writes them', () => {
  it('reads the marks under the tag keys rekey:promoted, rekey:verified and rekey:aborting', () => {
    const at = Date.parse('2026-11-30T12:00:00.000Z');
    assert.deepEqual(
      readMarks({
        tags: {
          'rekey:promoted': 'v1 2026-11-30T12:00:00.000Z',
          'rekey:verified': 'v2',
          'rekey:aborting': 'v3',
        },
      }),
      { promoted: { versionId: 'v1', at }, verified: 'v2', aborting: 'v3' },
    );
    assert.deepEqual(promotedTag('v1', at), { 'rekey:promoted': 'v1 2026-11-30T12:00:00.000Z' });
  });

  it('reads a malformed or empty mark as absent', () => {
    for (const value of ['', 'v1', 'v1 not-a-date', ' 2026-11-30T12:00:00.000Z', '1']) {
      assert.deepEqual(readMarks({ tags: { 'rekey:promoted': value } }), {}, `promoted mark '${value}'`);
    }
    assert.deepEqual(readMarks({ tags: { 'rekey:verified': '', 'rekey:aborting': '' } }), {});
    assert.deepEqual(readMarks({ tags: {} }), {});
  });
});

// ---------------------------------------------------------------------------------------------------
// The stage check of a running step (lambda/stage-guard.ts)
// ---------------------------------------------------------------------------------------------------

/** A database for checks that come before any statement, or that count what would be sent. */
function countingDatabase(): SqlRunner & { readonly sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    dialect: 'postgres',
    execute: async (sql) => {
      sent.push(sql);
      return { rows: [], updated: 0 };
    },
    begin: async () => 'tx',
    commit: async () => {},
    rollback: async () => {},
  };
}

const described = (stages: string[], tags: Record<string, string> = {}): SecretDescription => ({
  arn: SECRET_ARN,
  name: 'app',
  rotationEnabled: true,
  tags,
  versions: [
    { versionId: 'old', stages: ['AWSPREVIOUS'] },
    ...(stages.length > 0 ? [{ versionId: TOKEN, stages }] : []),
  ],
});

describe('a running step goes on only while its version is AWSPENDING and not yet AWSCURRENT', () => {
  const target = { secretId: SECRET_ARN, token: TOKEN, step: 'setSecret' };

  it('lets a version that is AWSPENDING alone go on', () => {
    assert.equal(stageProblem(described(['AWSPENDING']), target), undefined);
  });

  it('stops a version that is AWSCURRENT as well as AWSPENDING, as after a promotion by hand', () => {
    assert.match(
      stageProblem(described(['AWSPENDING', 'AWSCURRENT']), target) ?? '',
      /is no longer AWSPENDING \(it is AWSPENDING, AWSCURRENT\); setSecret stops/,
    );
  });

  it('says what the version is staged now, or that it is unstaged', () => {
    assert.match(stageProblem(described(['AWSPREVIOUS']), target) ?? '', /\(it is AWSPREVIOUS\)/);
    assert.match(stageProblem(described([]), target) ?? '', /\(it is unstaged\)/);
  });

  it("passes a step's transactions through to its database", async () => {
    const calls: string[] = [];
    const db: SqlRunner = {
      ...countingDatabase(),
      begin: async () => {
        calls.push('begin');
        return 'tx-1';
      },
      commit: async (tx) => {
        calls.push(`commit ${tx}`);
      },
      rollback: async (tx) => {
        calls.push(`rollback ${tx}`);
      },
    };
    const secrets = new MemorySecrets(SECRET_ARN);
    const clock = fakeClock();
    const guarded = guardedRunner(db, { secrets, clock }, target, 10_000, clock.now());
    assert.equal(await guarded.begin(), 'tx-1');
    await guarded.commit('tx-1');
    await guarded.rollback('tx-2');
    assert.deepEqual(calls, ['begin', 'commit tx-1', 'rollback tx-2']);
  });

  it('re-checks after every interval, not only after the first', async () => {
    const secrets = new MemorySecrets(SECRET_ARN);
    secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    const clock = fakeClock();
    const db = countingDatabase();
    const guarded = guardedRunner(db, { secrets, clock }, target, 10_000, clock.now());
    await guarded.execute('SELECT 1');
    clock.advance(10_000);
    await guarded.execute('SELECT 2'); // the first re-check passes
    assert.equal(secrets.calls.describe, 1);
    secrets.tags[MARK_TAGS.aborting] = TOKEN;
    clock.advance(10_000);
    await assert.rejects(guarded.execute('SELECT 3'), { name: 'RotationStateError', message: /rekey abort/ });
    assert.deepEqual(db.sent, ['SELECT 1', 'SELECT 2'], 'nothing is sent after the failed check');
  });
});

// ---------------------------------------------------------------------------------------------------
// The steps' state checks that need no database (lambda/steps.ts, lambda/reader-bound.ts)
// ---------------------------------------------------------------------------------------------------

/** Secrets and a clock only: every check here decides before the step sends a statement. */
function stepWorld(secrets = new MemorySecrets(SECRET_ARN)) {
  const clock = fakeClock();
  secrets.now = clock.now;
  const db = countingDatabase();
  const log = memoryLog();
  const config = rk1Config();
  const step = (name: RotationStep) =>
    runStep(
      { Step: name, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
      { secrets, db, clock, log, config, deadline: clock.now() + 15 * 60_000 },
    );
  return { secrets, clock, db, log, config, step };
}

/** A store that, like a value written by some other tool, says nothing of when versions were created. */
class UndatedSecrets extends MemorySecrets {
  override async listVersions(secretId: string): Promise<SecretVersionListing[]> {
    return (await super.listVersions(secretId)).map(({ versionId, stages }) => ({ versionId, stages }));
  }
}

describe('the checks every step makes first', () => {
  it('refuses a step of a secret whose description names no AWSCURRENT version, as a RotationStateError', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await assert.rejects(w.step('createSecret'), {
      name: 'RotationStateError',
      message: /has no AWSCURRENT value/,
    });
    assert.equal(w.secrets.calls.putPending, undefined);
  });

  it('logs each step with the fixed keys step, secretId and versionId', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    const done = w.log.entries.find((e) => e.message === 'createSecret done');
    assert.deepEqual(done?.fields, {
      step: 'createSecret',
      secretId: SECRET_ARN,
      versionId: TOKEN,
      durationMs: 0,
    });
  });
});

describe('a step of a version that is AWSCURRENT already', () => {
  it('leaves marks and stages alone unless it is finishSecret', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT', 'AWSPENDING'], TOKEN);
    for (const s of ['createSecret', 'setSecret', 'testSecret'] as const) await w.step(s);
    assert.deepEqual(w.secrets.tags, {});
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT', 'AWSPENDING']);
    assert.deepEqual(w.db.sent, []);
  });

  it('keeps the promotion time it recorded when finishSecret is retried, and moves no stage', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT'], TOKEN);
    const mark = promotedTag(TOKEN, w.clock.now());
    Object.assign(w.secrets.tags, mark);
    w.clock.advance(HOUR);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.tags, mark);
    assert.equal(w.secrets.calls.tag, undefined);
    assert.equal(w.secrets.calls.moveStage, undefined);
  });
});

describe('createSecret waits out the reader bound only for a key that promotion would unstage', () => {
  it('needs no wait when AWSPREVIOUS holds no usable data key', async () => {
    const w = stepWorld();
    w.secrets.add(JSON.stringify({ cookieSecret: 'x'.repeat(64) }), ['AWSCURRENT']);
    const current = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    Object.assign(w.secrets.tags, promotedTag(current, w.clock.now()));
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await w.step('createSecret');
    assert.ok(w.secrets.valueAt('AWSPENDING'));
  });

  it('does not date the current version by a promotion mark that names another version', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    const a = w.secrets.versions[0]?.versionId as string;
    Object.assign(w.secrets.tags, promotedTag(a, w.clock.now()));
    w.clock.advance(BOUND);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']); // written by hand: A is AWSPREVIOUS from now
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await assert.rejects(w.step('createSecret'), {
      name: 'RotationStateError',
      message: new RegExp(`Rotate at or after ${new Date(w.clock.now() + BOUND).toISOString()}`),
    });
    assert.equal(w.secrets.valueAt('AWSPENDING'), undefined);
  });

  it("refuses, as a RotationStateError, when the store's answers disagree about which version is AWSCURRENT", async () => {
    /** Answers that lag: DescribeSecret without the new AWSCURRENT, or ListSecretVersionIds without any version. */
    class LaggingSecrets extends MemorySecrets {
      hideCurrent = false;
      unlisted = false;
      override async describe(secretId: string): Promise<SecretDescription> {
        const d = await super.describe(secretId);
        return this.hideCurrent
          ? { ...d, versions: d.versions.filter((v) => !v.stages.includes('AWSCURRENT')) }
          : d;
      }
      override async listVersions(secretId: string): Promise<SecretVersionListing[]> {
        return this.unlisted ? [] : super.listVersions(secretId);
      }
    }
    for (const lag of ['hideCurrent', 'unlisted'] as const) {
      const secrets = new LaggingSecrets(SECRET_ARN);
      const w = stepWorld(secrets);
      w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
      w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
      w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
      w.clock.advance(10 * BOUND);
      secrets[lag] = true;
      await assert.rejects(
        w.step('createSecret'),
        { name: 'RotationStateError', message: /Refusing to start a rotation/ },
        lag,
      );
      assert.equal(w.secrets.valueAt('AWSPENDING'), undefined);
    }
  });

  it('waits when AWSPREVIOUS holds another key for one table, though it shares the key of another', async () => {
    const template = {
      encryptionKey: { kind: 'aes-256' as const },
      ledgerKey: { kind: 'aes-256' as const },
      cookieSecret: { kind: 'token' as const, length: 64 },
    };
    const config = rk1Config({
      secretTemplate: template,
      storedFields: [
        { table: 'data_sources', id: 'id', columns: ['options'] },
        { table: 'ledger', id: 'id', columns: ['entry'], dataKeyField: 'ledgerKey' },
      ],
    });
    const value = (key: number, ledger: number) =>
      JSON.stringify({
        encryptionKey: Buffer.alloc(32, key).toString('base64'),
        ledgerKey: Buffer.alloc(32, ledger).toString('base64'),
        cookieSecret: 'c'.repeat(64),
      });
    const w = stepWorld();
    w.secrets.add(value(1, 9), ['AWSCURRENT']);
    // Promoted just now: the data key moved on, the ledger key did not.
    const current = w.secrets.add(value(2, 9), ['AWSCURRENT']);
    Object.assign(w.secrets.tags, promotedTag(current, w.clock.now()));
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    await assert.rejects(
      runStep(
        { Step: 'createSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
        {
          secrets: w.secrets,
          db: w.db,
          clock: w.clock,
          log: w.log,
          config,
          deadline: w.clock.now() + 60_000,
        },
      ),
      { name: 'RotationStateError', message: /Refusing to start a rotation/ },
    );
  });

  it('refuses when neither a promotion mark nor a CreatedDate says when the current version became so', async () => {
    const w = stepWorld(new UndatedSecrets(SECRET_ARN));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    w.clock.advance(10 * BOUND);
    await assert.rejects(w.step('createSecret'), (e: Error) => {
      assert.equal(e.name, 'RotationStateError');
      assert.match(
        e.message,
        /^Refusing to start a rotation for secret app: promoting now would unstage the key/,
      );
      assert.match(e.message, /plus readers\.marginMs \(300000 ms\), and neither a rekey:promoted mark/);
      return true;
    });
    assert.equal(w.secrets.valueAt('AWSPENDING'), undefined);
  });
});

// ---------------------------------------------------------------------------------------------------
// Steps on a database (embedded PGlite)
// ---------------------------------------------------------------------------------------------------

async function dbWorld(config: RekeyConfig = rk1Config({ paging: { maxRows: 2, maxBytes: 512 * 1024 } })) {
  const secrets = new MemorySecrets(SECRET_ARN);
  const clock = fakeClock();
  secrets.now = clock.now;
  const db = await pgliteRunner();
  const log = memoryLog();
  await seedRk1(db, config, RK1_SECRET_A, 4);
  const deps = (overrides: Partial<StepDeps> = {}): StepDeps => ({
    secrets,
    db,
    clock,
    log,
    config,
    deadline: clock.now() + 15 * 60_000,
    ...overrides,
  });
  const step = (name: RotationStep, overrides?: Partial<StepDeps>) =>
    runStep({ Step: name, SecretId: SECRET_ARN, ClientRequestToken: TOKEN }, deps(overrides));
  const writeUnder = async (secret: string, id: string, plaintext = 'app write') => {
    const v = codecFor(config.codec).encrypt(Buffer.from(plaintext), keyOf(secret, config), {
      table: 'tokens',
      column: 'value',
    });
    await db.execute('UPDATE tokens SET value = :v WHERE token_id = :id', { v, id });
  };
  return { secrets, clock, db, log, config, deps, step, writeUnder };
}

describe('testSecret and finishSecret on a database', () => {
  it('stops testSecret at its next check once an abort is marked, and leaves no verified mark', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    const runner = hookedRunner(w.db, 10, () => {
      w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
      w.clock.advance(w.config.stageCheckIntervalMs);
    });
    await assert.rejects(w.step('testSecret', { db: runner }), {
      name: 'RotationStateError',
      message: /rekey abort is ending the rotation .* testSecret stops/,
    });
    assert.equal(runner.sent.length, 10, 'the statement under way when the mark appeared is the last one');
    assert.equal(w.secrets.tags[MARK_TAGS.verified], undefined);
  });

  it('takes back its verified mark when a later testSecret of the same version fails', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    await w.step('testSecret');
    assert.equal(w.secrets.tags[MARK_TAGS.verified], TOKEN);
    assert.ok(
      !w.log.entries.some((e) => e.level === 'warn'),
      'no row was written under AWSCURRENT: no warning',
    );
    await w.db.execute("UPDATE tokens SET value = 'not encrypted' WHERE token_id = 'tok-0002'");
    await w.db.execute('UPDATE data_sources SET extra = :v WHERE id = 2000', {
      v: `rk1:${kidOf(RK1_SECRET_B)}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    });
    await assert.rejects(w.step('testSecret'), { name: 'VerificationError' });
    const failed = w.log.entries.find((e) => e.message === 'testSecret: verification failed');
    const { rows, plaintext, undecryptable } = (failed?.fields ?? {}) as Record<string, number>;
    assert.deepEqual({ rows, plaintext, undecryptable }, { rows: 16, plaintext: 1, undecryptable: 1 });
    assert.equal(w.secrets.tags[MARK_TAGS.verified], undefined);
    await assert.rejects(w.step('finishSecret'), {
      name: 'RotationStateError',
      message: /testSecret has not passed/,
    });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
  });

  it('promotes with rows the app wrote under AWSCURRENT after testSecret: they stay readable as AWSPREVIOUS', async () => {
    const w = await dbWorld();
    const old = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    await w.step('testSecret');
    await w.writeUnder(RK1_SECRET_A, 'tok-0002');
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.deepEqual(w.secrets.stagesOf(old), ['AWSPREVIOUS']);
  });

  it('fails on rows under an older key without taking them for rows under AWSCURRENT, and without a mark to take back', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_C, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']); // C is AWSPREVIOUS
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    // An app instance with a stale ring writes under C once the catch-up pass is over.
    let written = false;
    const db: SqlRunner = {
      ...w.db,
      execute: async (sql, params, options) => {
        // The full read's first page, which waits for the catch-up (its pages filter with SUBSTRING).
        if (!written && sql.includes(' AS v FROM ') && !sql.includes('SUBSTRING')) {
          written = true;
          await w.writeUnder(RK1_SECRET_C, 'tok-0002');
        }
        return w.db.execute(sql, params, options);
      },
    };
    await assert.rejects(w.step('testSecret', { db }), {
      name: 'VerificationError',
      message: /tokens\.value: 1 rows still under an older key than AWSCURRENT \(ids tok-0002\)/,
    });
    assert.ok(!w.log.entries.some((e) => e.level === 'warn' && /under AWSCURRENT/.test(e.message)));
    assert.equal(w.secrets.calls.untag, undefined, 'no verified mark named the version');
  });

  it('passes undecryptable rows when the policy says skip', async () => {
    const w = await dbWorld(
      rk1Config({
        paging: { maxRows: 2, maxBytes: 512 * 1024 },
        policies: { plaintext: 'fail', undecryptable: 'skip' },
      }),
    );
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    await w.db.execute('UPDATE data_sources SET extra = :v WHERE id = 2000', {
      v: `rk1:${kidOf(RK1_SECRET_B)}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    });
    await w.step('testSecret');
    assert.equal(w.secrets.tags[MARK_TAGS.verified], TOKEN);
  });

  it('promotes at once when AWSPREVIOUS holds the key of AWSCURRENT: the move unstages no distinct key', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    const again = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']); // the same value written again, just now
    Object.assign(w.secrets.tags, promotedTag(again, w.clock.now()));
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    for (const s of ['setSecret', 'testSecret', 'finishSecret'] as const) await w.step(s);
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
  });

  it('promotes at once a pending version that holds the key of AWSPREVIOUS: the move unstages no key', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    const b = w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    Object.assign(w.secrets.tags, promotedTag(b, w.clock.now()));
    // The operator stages A's value again, within the reader bound of B's promotion.
    w.secrets.add(RK1_SECRET_A, ['AWSPENDING'], TOKEN);
    for (const s of ['setSecret', 'testSecret', 'finishSecret'] as const) await w.step(s);
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
    assert.deepEqual(w.secrets.stagesOf(b), ['AWSPREVIOUS']);
  });

  it('still waits out the reader bound before promotion unstages a distinct AWSPREVIOUS key', async () => {
    const w = await dbWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    const b = w.secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    Object.assign(w.secrets.tags, promotedTag(b, w.clock.now()));
    w.secrets.add(RK1_SECRET_C, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    await w.step('testSecret');
    await assert.rejects(w.step('finishSecret'), {
      name: 'RotationStateError',
      message: /Refusing to promote version/,
    });
    w.clock.advance(BOUND);
    await w.step('finishSecret');
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSCURRENT']);
  });
});

// ---------------------------------------------------------------------------------------------------
// rekey abort (lambda/abort.ts)
// ---------------------------------------------------------------------------------------------------

/** A database that no statement may reach. */
const unreachableDatabase: SqlRunner = {
  dialect: 'postgres',
  execute: async (sql) => {
    throw new Error(`no statement was expected, got: ${sql}`);
  },
  begin: async () => {
    throw new Error('no transaction was expected');
  },
  commit: async () => {},
  rollback: async () => {},
};

/** Deps for abort over a step world's secrets and clock. */
const abortDeps = (w: ReturnType<typeof stepWorld>, db: SqlRunner = unreachableDatabase): StepDeps => ({
  secrets: w.secrets,
  db,
  clock: w.clock,
  log: w.log,
  config: w.config,
  deadline: w.clock.now() + 15 * 60_000,
});

describe('rekey abort decides what to do before it touches a row', () => {
  it('refuses when there is no AWSCURRENT version to move rows back to, and marks nothing', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await assert.rejects(abortRotation(SECRET_ARN, abortDeps(w)), {
      name: 'RotationStateError',
      message: /has no AWSCURRENT version to move rows back to/,
    });
    assert.deepEqual(w.secrets.tags, {});
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
  });

  it('refuses, after marking, when the AWSCURRENT version has no value, and leaves AWSPENDING where it is', async () => {
    const w = stepWorld();
    w.secrets.add(undefined, ['AWSCURRENT']); // a binary secret, or a version written without a SecretString
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await assert.rejects(abortRotation(SECRET_ARN, abortDeps(w)), {
      name: 'RotationStateError',
      message: /has no AWSCURRENT value/,
    });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING']);
    assert.equal(w.secrets.tags[MARK_TAGS.aborting], TOKEN, 'the mark stays: no step may resume');
  });

  it('sends no statement when the pending version has no value, or holds the current key', async () => {
    for (const pendingValue of [undefined, RK1_SECRET_A]) {
      const w = stepWorld();
      const current = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
      w.secrets.add(pendingValue, ['AWSPENDING'], TOKEN);
      const report = await abortRotation(SECRET_ARN, abortDeps(w));
      assert.equal(report.movedBack, 0);
      assert.deepEqual(w.secrets.stagesOf(TOKEN), []);
      assert.deepEqual(w.secrets.stagesOf(current), ['AWSCURRENT']);
    }
  });

  it('keeps a mark already in place when run again', async () => {
    const w = stepWorld();
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(undefined, ['AWSPENDING'], TOKEN);
    w.secrets.tags[MARK_TAGS.aborting] = TOKEN;
    await abortRotation(SECRET_ARN, abortDeps(w));
    assert.equal(w.secrets.calls.tag, undefined, 'the mark was there: no TagResource');
    assert.deepEqual(w.secrets.tags, {});
  });
});

describe('rekey abort on a database', () => {
  it('keeps AWSPENDING and its mark when rows stay under the pending key after the move back', async () => {
    const w = await dbWorld(rk1Config({ paging: { maxRows: 4, maxBytes: 512 * 1024 } }));
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    // Something (a writer that ignores the mark) keeps writing tok-0002 under the pending key.
    let n = 0;
    const db: SqlRunner = {
      ...w.db,
      execute: async (sql, params, options) => {
        if (sql.startsWith('UPDATE') && sql.includes('tokens'))
          await w.writeUnder(RK1_SECRET_B, 'tok-0002', `write ${++n}`);
        return w.db.execute(sql, params, options);
      },
    };
    await assert.rejects(abortRotation(SECRET_ARN, w.deps({ db })), {
      name: 'RotationStateError',
      message: /^1 rows are still under the pending key/,
    });
    assert.deepEqual(w.secrets.stagesOf(TOKEN), ['AWSPENDING'], 'the row stays readable');
    assert.equal(w.secrets.tags[MARK_TAGS.aborting], TOKEN);
  });

  it('waits out the check interval plus a statement before it moves a row, then clears its marks', async () => {
    const w = await dbWorld();
    const current = w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    await w.step('setSecret');
    await w.step('testSecret');
    assert.equal(w.secrets.tags[MARK_TAGS.verified], TOKEN);
    const sentAt: number[] = [];
    const db: SqlRunner = {
      ...w.db,
      execute: (sql, params, options) => {
        sentAt.push(w.clock.now());
        return w.db.execute(sql, params, options);
      },
    };
    const start = w.clock.now();
    const report = await abortRotation(SECRET_ARN, w.deps({ db }));
    assert.deepEqual(w.clock.slept, [w.config.stageCheckIntervalMs + STATEMENT_ALLOWANCE_MS]);
    assert.equal(STATEMENT_ALLOWANCE_MS, 60_000);
    assert.ok(sentAt.length > 0 && sentAt.every((t) => t >= start + 70_000), 'nothing sent before the wait');
    assert.ok(report.movedBack > 0);
    assert.deepEqual(w.secrets.stagesOf(TOKEN), []);
    assert.deepEqual(w.secrets.stagesOf(current), ['AWSCURRENT']);
    assert.deepEqual(w.secrets.tags, {}, 'neither the abort mark nor the verified mark is left');
  });
});

// ---------------------------------------------------------------------------------------------------
// The passes: conflicts, blind passes and the completeness of a read (lambda/reencrypt.ts, verify.ts)
// ---------------------------------------------------------------------------------------------------

describe('a verification read proves something only when it saw every row', () => {
  const read = (rows: number, before: number, after: number) =>
    incompleteRead({ rows, counted: { before, after } });

  it('accepts any count between the counts before and after the read, either way round', () => {
    assert.equal(read(6, 6, 6), false);
    for (const rows of [5, 6, 7]) {
      assert.equal(read(rows, 5, 7), false, `${rows} read while rows were added`);
      assert.equal(read(rows, 7, 5), false, `${rows} read while rows were deleted`);
    }
  });

  it('refuses a count outside them', () => {
    for (const [rows, before, after] of [
      [4, 5, 7],
      [8, 5, 7],
      [4, 7, 5],
      [8, 7, 5],
      [0, 6, 6],
      [7, 6, 6],
    ] as const) {
      assert.equal(read(rows, before, after), true, `${rows} read of ${before} then ${after}`);
    }
  });
});

describe('testSecret proves that each row decrypts, not only that its key matches', () => {
  /** A Fernet token whose HMAC verifies under `material` but whose plaintext padding is invalid. */
  const signedButUndecryptable = (material: Uint8Array): Buffer => {
    const header = Buffer.alloc(9);
    header.writeUInt8(0x80, 0);
    header.writeBigUInt64BE(1_700_000_000n, 1);
    const iv = Buffer.alloc(16, 7);
    const cipher = createCipheriv('aes-128-cbc', material.subarray(16, 32), iv).setAutoPadding(false);
    const body = Buffer.concat([cipher.update(Buffer.alloc(16, 0)), cipher.final()]); // last byte 0: no padding
    const signed = Buffer.concat([header, iv, body]);
    const mac = createHmac('sha256', material.subarray(0, 16)).update(signed).digest();
    const token = Buffer.concat([signed, mac]).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
    return Buffer.from(token, 'latin1');
  };

  it('counts a Fernet token that its key signed but that does not decrypt as undecryptable', async () => {
    const config = redashConfig();
    const secrets = new MemorySecrets(SECRET_ARN);
    const clock = fakeClock();
    const db = await pgliteRunner();
    await seedRedash(db, config, REDASH_SECRET_A, 3);
    secrets.add(REDASH_SECRET_A, ['AWSCURRENT']);
    secrets.add(REDASH_SECRET_B, ['AWSPENDING'], TOKEN);
    const step = (name: RotationStep) =>
      runStep(
        { Step: name, SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
        { secrets, db, clock, log: memoryLog(), config, deadline: clock.now() + 15 * 60_000 },
      );
    await step('setSecret');
    await db.execute('UPDATE data_sources SET encrypted_options = :v WHERE id = 2', {
      v: signedButUndecryptable(keyOf(REDASH_SECRET_B, config).material),
    });
    await assert.rejects(step('testSecret'), {
      name: 'VerificationError',
      message: /data_sources\.encrypted_options: 1 rows no staged version can decrypt \(ids 2\)/,
    });
    assert.equal(secrets.tags[MARK_TAGS.verified], undefined);
  });
});

describe('a re-encryption pass reports what it left and why', () => {
  it('counts plaintext and undecryptable values in full, and names at most 20 of each', async () => {
    const w = await dbWorld(rk1Config({ paging: { maxRows: 100, maxBytes: 512 * 1024 } }));
    const damaged = `rk1:${kidOf(RK1_SECRET_A)}:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    for (let i = 1; i <= 22; i++) {
      const n = String(i).padStart(2, '0');
      await w.db.execute('INSERT INTO tokens VALUES (:id, :v)', { id: `p-${n}`, v: 'not encrypted' });
      await w.db.execute('INSERT INTO tokens VALUES (:id, :v)', { id: `u-${n}`, v: damaged });
    }
    const report = await reencrypt(
      { target: RK1_SECRET_B, sources: [RK1_SECRET_A] },
      { db: w.db, clock: w.clock, log: w.log, config: w.config, deadline: w.clock.now() + 60_000 },
    );
    const tokens = report.columns.find((c) => c.table === 'tokens' && c.column === 'value');
    const ids = (prefix: string) =>
      Array.from({ length: 20 }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);
    assert.deepEqual(
      {
        plaintext: tokens?.plaintext,
        plaintextIds: tokens?.plaintextIds,
        undecryptable: tokens?.undecryptable,
        undecryptableIds: tokens?.undecryptableIds,
        rewritten: tokens?.rewritten,
      },
      { plaintext: 22, plaintextIds: ids('p'), undecryptable: 22, undecryptableIds: ids('u'), rewritten: 4 },
    );
  });

  it('sends no write for a column in which nothing can be rewritten', async () => {
    const w = await dbWorld(rk1Config({ paging: { maxRows: 100, maxBytes: 512 * 1024 } }));
    await w.db.execute("UPDATE tokens SET value = 'not encrypted'");
    const writes: string[] = [];
    const db: SqlRunner = {
      ...w.db,
      execute: (sql, params, options) => {
        if (sql.startsWith('UPDATE')) writes.push(sql);
        return w.db.execute(sql, params, options);
      },
    };
    const report = await reencrypt(
      { target: RK1_SECRET_B, sources: [RK1_SECRET_A] },
      { db, clock: w.clock, log: w.log, config: w.config, deadline: w.clock.now() + 60_000 },
    );
    assert.equal(report.columns.find((c) => c.table === 'tokens')?.plaintext, 4);
    assert.equal(writes.filter((sql) => sql.includes('tokens')).length, 0);
    assert.equal(writes.length, 3, 'one write for each of the other columns');
  });

  it('rewrites no Fernet token a second time: rows under the target key are done', async () => {
    const config = redashConfig();
    const secrets = new MemorySecrets(SECRET_ARN);
    const clock = fakeClock();
    const db = await pgliteRunner();
    await seedRedash(db, config, REDASH_SECRET_A, 3);
    secrets.add(REDASH_SECRET_A, ['AWSCURRENT']);
    secrets.add(REDASH_SECRET_B, ['AWSPENDING'], TOKEN);
    const deps = { db, clock, log: memoryLog(), config, deadline: clock.now() + 60_000 };
    const plan = { target: REDASH_SECRET_B, sources: [REDASH_SECRET_A] };
    const first = await reencrypt(plan, deps);
    const before = await db.execute('SELECT id, encrypted_options FROM data_sources ORDER BY id');
    const again = await reencrypt(plan, deps);
    const sum = (r: typeof first, pick: (c: (typeof first.columns)[number]) => number) =>
      r.columns.reduce((n, c) => n + pick(c), 0);
    assert.equal(
      sum(first, (c) => c.rewritten),
      6,
    );
    assert.deepEqual(
      { rewritten: sum(again, (c) => c.rewritten), alreadyDone: sum(again, (c) => c.alreadyDone) },
      { rewritten: 0, alreadyDone: 6 },
    );
    assert.deepEqual(await db.execute('SELECT id, encrypted_options FROM data_sources ORDER BY id'), before);
  });
});

describe('setSecret settles the rows that the app writes while rekey writes them', () => {
  const config = rk1Config({ paging: { maxRows: 4, maxBytes: 512 * 1024 } });

  /** A runner that calls `app` before (or after) each compare-and-swap write to `tokens`. */
  const appAtWrites = (
    db: SqlRunner,
    app: (write: number) => Promise<void>,
    when: 'before' | 'after' = 'before',
  ): SqlRunner & { writes: number } => {
    const runner = {
      writes: 0,
      dialect: db.dialect,
      execute: async (
        sql: string,
        params?: Parameters<SqlRunner['execute']>[1],
        options?: Parameters<SqlRunner['execute']>[2],
      ) => {
        const isWrite = sql.startsWith('UPDATE') && sql.includes('tokens');
        if (isWrite && when === 'before') await app(++runner.writes);
        const result = await db.execute(sql, params, options);
        if (isWrite && when === 'after') await app(++runner.writes);
        return result;
      },
      begin: () => db.begin(),
      commit: (tx: string) => db.commit(tx),
      rollback: (tx: string) => db.rollback(tx),
    };
    return runner;
  };

  const tokensUnder = async (w: Awaited<ReturnType<typeof dbWorld>>) => {
    const { rows } = await w.db.execute('SELECT token_id, value FROM tokens ORDER BY token_id');
    return rows.map(([id, v]) => `${id}:${String(v).split(':')[1]}`);
  };

  const pending = async () => {
    const w = await dbWorld(config);
    w.secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    w.secrets.add(RK1_SECRET_B, ['AWSPENDING'], TOKEN);
    return w;
  };
  const b = kidOf(RK1_SECRET_B);

  it('re-reads the whole page after conflicts, so every changed row of it is moved', async () => {
    const w = await pending();
    const db = appAtWrites(w.db, async (n) => {
      if (n === 1)
        for (const id of ['tok-0002', 'tok-0003', 'tok-0004'])
          await w.writeUnder(RK1_SECRET_A, id, `app ${id}`);
    });
    await w.step('setSecret', { db });
    assert.deepEqual(
      await tokensUnder(w),
      ['tok-0001', 'tok-0002', 'tok-0003', 'tok-0004'].map((id) => `${id}:${b}`),
    );
  });

  it('moves a row that the app changed again while rekey retried it', async () => {
    const w = await pending();
    const db = appAtWrites(w.db, async (n) => {
      if (n <= 2) await w.writeUnder(RK1_SECRET_A, 'tok-0002', `app write ${n}`);
    });
    await w.step('setSecret', { db });
    assert.equal(db.writes, 3);
    const done = w.log.entries.find((e) => e.message === 'setSecret: stored fields re-encrypted');
    assert.equal(((done?.fields ?? {}) as Record<string, number>).rewritten, 16, 'every value, counted once');
    assert.deepEqual(
      await tokensUnder(w),
      ['tok-0001', 'tok-0002', 'tok-0003', 'tok-0004'].map((id) => `${id}:${b}`),
    );
  });

  it('leaves a row that the app keeps changing after five re-reads, and reports it unresolved', async () => {
    const w = await pending();
    // tok-0002 changes before every write; tok-0003 before the first five only, so the last round
    // writes one row of two.
    const db = appAtWrites(w.db, async (n) => {
      await w.writeUnder(RK1_SECRET_A, 'tok-0002', `app write ${n}`);
      if (n <= 5) await w.writeUnder(RK1_SECRET_A, 'tok-0003', `app write ${n}`);
    });
    await w.step('setSecret', { db });
    assert.equal(db.writes, 6, 'the page write, then five rounds');
    const done = w.log.entries.find((e) => e.message === 'setSecret: stored fields re-encrypted');
    const { conflicts, unresolved, rewritten } = (done?.fields ?? {}) as Record<string, number>;
    assert.deepEqual({ conflicts, unresolved, rewritten }, { conflicts: 2, unresolved: 1, rewritten: 15 });
    const tokens = await tokensUnder(w);
    assert.equal(tokens[1], `tok-0002:${kidOf(RK1_SECRET_A)}`, "the app's value is kept");
    assert.equal(tokens[2], `tok-0003:${b}`);
  });

  it('never writes a row it skipped, when it retries a page after a conflict', async () => {
    const w = await pending();
    await w.db.execute("UPDATE tokens SET value = 'not encrypted' WHERE token_id = 'tok-0003'");
    const db = appAtWrites(w.db, async (n) => {
      if (n === 1) await w.writeUnder(RK1_SECRET_A, 'tok-0002', 'app write');
    });
    await w.step('setSecret', { db });
    const { rows } = await w.db.execute("SELECT value FROM tokens WHERE token_id = 'tok-0003'");
    assert.deepEqual(rows, [['not encrypted']]);
    assert.equal((await tokensUnder(w))[1], `tok-0002:${b}`);
  });

  it('finishes a column whose rows another pass moved meanwhile, as a resume beside the service retry', async () => {
    const w = await pending();
    let moved = false;
    const db: SqlRunner = {
      ...w.db,
      execute: async (sql, params, options) => {
        const result = await w.db.execute(sql, params, options);
        if (!moved && sql.startsWith('SELECT COUNT(*)') && sql.includes('tokens')) {
          moved = true; // the other pass moves every row of tokens.value right after this one counted them
          for (const id of ['tok-0001', 'tok-0002', 'tok-0003', 'tok-0004'])
            await w.writeUnder(RK1_SECRET_B, id);
        }
        return result;
      },
    };
    await w.step('setSecret', { db });
    assert.ok(moved);
    assert.deepEqual(
      await tokensUnder(w),
      ['tok-0001', 'tok-0002', 'tok-0003', 'tok-0004'].map((id) => `${id}:${b}`),
    );
  });

  it('does not take rows that the app rewrote after the pass moved them for a blind pass', async () => {
    const w = await pending();
    const db = appAtWrites(
      w.db,
      async () => {
        for (const id of ['tok-0001', 'tok-0002', 'tok-0003', 'tok-0004'])
          await w.writeUnder(RK1_SECRET_A, id);
      },
      'after',
    );
    await w.step('setSecret', { db });
    assert.equal(db.writes, 1);
  });
});
