import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig, type RekeyConfig, type RekeyConfigInput } from '../../lambda/config.js';
import { memoryLog } from '../../lambda/log.js';
import type { StagedValue } from '../../lambda/passes/census.js';
import { fieldImpacts, pagesRead, planRotation, rotationIntervalMs } from '../../lambda/plan.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { runStep } from '../../lambda/steps.js';
import {
  CENSUS_STAGED,
  censusConfig,
  countedRunner,
  encrypted,
  plantUnlisted,
  seedConfigured,
} from '../support/census-suite.js';
import { fakeClock } from '../support/fake-clock.js';
import { RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C, redashConfig, SECRET_ARN } from '../support/fixtures.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

const TOKEN = '11111111-2222-4333-8444-555555555555';

async function fresh(): Promise<SqlRunner> {
  const db = await pgliteRunner();
  await db.execute('DROP SCHEMA IF EXISTS audit CASCADE');
  await db.execute('DROP SCHEMA IF EXISTS app2 CASCADE');
  return db;
}

function plan(
  db: SqlRunner,
  config: RekeyConfig,
  options: Parameters<typeof planRotation>[2] = {},
  staged: readonly StagedValue[] = CENSUS_STAGED,
) {
  const clock = fakeClock();
  return planRotation(
    staged,
    { db, clock, log: memoryLog(), config, deadline: Number.POSITIVE_INFINITY },
    options,
  );
}

const config = (overrides: Partial<RekeyConfigInput> = {}) => censusConfig('postgres', overrides);

describe('rekey plan, the computation', () => {
  it('reports a table whose id column is not unique as a blocking warning naming table and column, and plans the rest', async () => {
    const db = await fresh();
    await seedConfigured(db, 10);
    await db.execute('CREATE TABLE shared (owner_id int, blob text)');
    const c = config({
      storedFields: [...config().storedFields, { table: 'shared', id: 'owner_id', columns: ['blob'] }],
    });
    const p = await plan(db, c);
    const w = p.warnings.find((x) => x.kind === 'id-not-unique');
    assert.deepEqual(
      { table: w?.table, column: w?.column, blocks: w?.blocks },
      { table: 'shared', column: 'owner_id', blocks: true },
    );
    assert.match(w?.message ?? '', /shared\.owner_id' is not unique/);
    assert.deepEqual(
      p.passes.map((x) => `${x.table}.${x.column}`),
      ['accounts.secret', 'sources.options'],
    );
    assert.equal(p.blocked, true);
  });

  it('warns that rows under an unknown rk1 key make the rotation refuse, and that plaintext fails testSecret', async () => {
    const db = await fresh();
    await seedConfigured(db, 10);
    await db.execute('UPDATE accounts SET secret = :v WHERE id = 7', {
      v: encrypted('rk1', 'encryptionKey', RK1_SECRET_C, 'accounts', 'secret'),
    });
    await db.execute(`UPDATE accounts SET secret = 'not encrypted' WHERE id = 14`);
    const p = await plan(db, config({ policies: { plaintext: 'skip', undecryptable: 'fail' } }));
    const kinds = p.warnings.map((w) => `${w.kind} ${w.blocks ? 'blocks' : 'warns'}`);
    assert.deepEqual(kinds, ['unknown-keys blocks', 'plaintext warns']);
    assert.match(
      p.warnings[0]?.message ?? '',
      /accounts\.secret: 1 rows under keys no staged version holds \(1 under key id 'rk1:.{8}:'\): the rotation refuses to start \(StrandedRowsError/,
    );
    assert.match(p.warnings[1]?.message ?? '', /1 values not in the rk1 format: testSecret skips them/);
    assert.deepEqual([p.total.unknown, p.total.plaintext], [1, 1]);
  });

  it('flags values close to the 64 KB row limit with their ids, and over it as blocking', async () => {
    const db = await fresh();
    await seedConfigured(db, 4);
    await db.execute(`UPDATE accounts SET secret = :v WHERE id = 14`, { v: `rk1:${'x'.repeat(50_000)}` });
    let p = await plan(db, config({ policies: { plaintext: 'skip', undecryptable: 'skip' } }));
    let w = p.warnings.find((x) => x.kind === 'large-values');
    assert.match(
      w?.message ?? '',
      /accounts\.secret: values up to 50004 bytes \(rows 14\), close to the Data API's 64 KB row limit/,
    );
    assert.equal(w?.blocks, false);
    await db.execute(`UPDATE accounts SET secret = :v WHERE id = 21`, { v: `rk1:${'y'.repeat(70_000)}` });
    p = await plan(db, config({ policies: { plaintext: 'skip', undecryptable: 'skip' } }));
    w = p.warnings.find((x) => x.kind === 'too-large');
    assert.match(
      w?.message ?? '',
      /rows 14, 21\): over the Data API's 64 KB row limit, setSecret stops with RowTooLargeError/,
    );
    assert.equal(w?.blocks, true);
  });

  it('blocks on a schedule shorter than the reader bound, and reads rate() and AutomaticallyAfterDays', async () => {
    const db = await fresh();
    await seedConfigured(db, 2);
    const c = config({ readers: { maxAgeMs: 5 * 3_600_000, marginMs: 0 } });
    const p = await plan(db, c, { rotationRules: { scheduleExpression: 'rate(4 hours)' } });
    const w = p.warnings.find((x) => x.kind === 'schedule-within-reader-bound');
    assert.equal(w?.blocks, true);
    assert.match(
      w?.message ?? '',
      /rate\(4 hours\)\) rotates every 4 h, sooner than the reader bound .* \(5 h\): createSecret refuses/,
    );
    const ok = await plan(db, c, { rotationRules: { automaticallyAfterDays: 1 } });
    assert.deepEqual(ok.warnings, []);
    assert.equal(rotationIntervalMs({ scheduleExpression: 'rate(1 day)' }), 86_400_000);
    assert.equal(rotationIntervalMs({ scheduleExpression: 'rate(12 hours)' }), 12 * 3_600_000);
    assert.equal(rotationIntervalMs({ automaticallyAfterDays: 30 }), 30 * 86_400_000);
    assert.equal(rotationIntervalMs({ scheduleExpression: 'cron(0 3 ? * SUN *)' }), undefined);
    assert.equal(rotationIntervalMs(undefined), undefined);
  });

  it('turns ciphertext the census finds outside the config into warnings: blocking under a staged key', async () => {
    const db = await fresh();
    await seedConfigured(db, 4);
    await plantUnlisted(db);
    const p = await plan(db, config());
    const census = p.warnings.filter((w) => w.kind.includes('ciphertext'));
    assert.deepEqual(census.map((w) => `${w.table}.${w.column} ${w.blocks ? 'blocks' : 'warns'}`).sort(), [
      'app2.cache.token blocks',
      'app2.cache.v blocks',
      'audit.events.note blocks',
      'audit.events.note warns',
      'audit.events.payload blocks',
    ]);
    assert.match(
      census.find((w) => w.table === 'app2.cache' && w.column === 'v')?.message ?? '',
      /Add it to storedFields, or to ignoredColumns with a reason/,
    );
  });

  it('counts invocations from the time: several for a slow setSecret, and blocks a testSecret that cannot fit one', async () => {
    const db = await fresh();
    await seedConfigured(db, 40);
    // One stream: the round trips do not overlap, so the time is every call's latency.
    const c = config({ paging: { maxRows: 1, maxBytes: 512 * 1024, streams: 1 } });
    const p = await plan(db, c, { latencyMs: 20_000 });
    // 36 + 20 rows at one row a page: setSecret 2 calls a row, testSecret about 2 reads a row.
    assert.equal(p.steps.setSecret.timeMs.calls, p.steps.setSecret.calls.total * 20_000);
    assert.equal(p.invocations.budgetMs, 15 * 60_000 - 30_000);
    assert.equal(p.invocations.setSecret, Math.ceil(p.steps.setSecret.timeMs.total / p.invocations.budgetMs));
    assert.ok(p.invocations.setSecret > 1);
    assert.equal(p.invocations.testSecretFits, false);
    assert.deepEqual(
      p.warnings.map((w) => `${w.kind} ${w.blocks}`),
      ['test-secret-too-long true', 'several-invocations false'],
    );
    assert.match(p.warnings[0]?.message ?? '', /run the rotation with 'rekey resume'/);
  });

  it('overlaps round trips as the passes do: at 100 ms a call setSecret runs two streams, the full read four', async () => {
    const db = await fresh();
    await seedConfigured(db, 40);
    const p = await plan(db, config({ paging: { maxRows: 1, maxBytes: 512 * 1024 } }), { latencyMs: 100 });
    assert.equal(p.steps.setSecret.timeMs.calls, Math.round((p.steps.setSecret.calls.total * 100) / 2));
    assert.equal(p.steps.testSecret.timeMs.calls, Math.round((p.steps.testSecret.calls.total * 100) / 4));
  });

  it("takes maxRowsPerSecond's time for setSecret, and none of it for testSecret's full read", async () => {
    const db = await fresh();
    await seedConfigured(db, 40);
    const free = await plan(db, config(), { latencyMs: 100 });
    const capped = await plan(db, config({ pacing: { maxRowsPerSecond: 2 } }), { latencyMs: 100 });
    const rows = capped.steps.setSecret.rows;
    assert.ok(rows > 0);
    assert.equal(capped.steps.setSecret.timeMs.total, Math.round((rows / 2) * 1000));
    assert.ok(capped.steps.setSecret.timeMs.total > free.steps.setSecret.timeMs.total);
    // testSecret's catch-up rewrites at that rate too (the column without a key prefix: all its rows),
    // its full read does not.
    const catchUp = capped.passes.reduce((sum, p) => sum + p.testSecret.catchUpRows, 0);
    assert.ok(catchUp < capped.steps.testSecret.rows);
    assert.equal(capped.steps.testSecret.timeMs.total, Math.round((catchUp / 2) * 1000));
  });

  it('plans a resumed rotation: rows already under the pending key are neither read nor written again', async () => {
    const db = await fresh();
    await seedConfigured(db, 200);
    const c = config({ paging: { maxRows: 20, maxBytes: 512 * 1024 } });
    // An earlier attempt moved the first 60 accounts to the pending key C.
    const first = await db.execute('SELECT id FROM accounts WHERE secret IS NOT NULL ORDER BY id LIMIT 60');
    for (const [id] of first.rows)
      await db.execute('UPDATE accounts SET secret = :v WHERE id = :id', {
        id: Number(id),
        v: encrypted('rk1', 'encryptionKey', RK1_SECRET_C, 'accounts', 'secret'),
      });
    const staged: StagedValue[] = [
      { label: 'current', versionId: 'version-a', secretString: RK1_SECRET_A },
      { label: 'pending', versionId: TOKEN, secretString: RK1_SECRET_C },
      { label: 'previous', versionId: 'version-b', secretString: RK1_SECRET_B },
    ];
    const p = await plan(db, c, {}, staged);
    const accounts = p.passes.find((x) => x.table === 'accounts');
    assert.equal(accounts?.setSecret.rowsRead, 180 - 60);
    assert.equal(p.total.pending, 60);

    const secrets = new MemorySecrets(SECRET_ARN);
    secrets.add(RK1_SECRET_B, ['AWSCURRENT']);
    secrets.add(RK1_SECRET_A, ['AWSCURRENT']);
    secrets.add(RK1_SECRET_C, ['AWSPENDING'], TOKEN);
    const counted = countedRunner(db);
    counted.setPhase('setSecret');
    const clock = fakeClock();
    await runStep(
      { Step: 'setSecret', SecretId: SECRET_ARN, ClientRequestToken: TOKEN },
      { secrets, db: counted.runner, clock, log: memoryLog(), config: c, deadline: clock.now() + 900_000 },
    );
    const actual = counted.counts.setSecret ?? 0;
    const predicted = p.steps.setSecret.calls.total;
    assert.ok(Math.abs(predicted - actual) <= 0.2 * actual, `predicted ${predicted}, actual ${actual}`);
  });

  it('reads pages the way the pass does: one more, empty, read when the rows fill whole pages', () => {
    assert.equal(pagesRead(0, 25), 1);
    assert.equal(pagesRead(49, 25), 2);
    assert.equal(pagesRead(50, 25), 3);
  });

  it('says per template field what a rotation invalidates, from docs/deploy.md', () => {
    const rk1 = fieldImpacts(config());
    assert.deepEqual(
      rk1.map((f) => `${f.field} ${f.role} ${f.usedBy.join(',')}`),
      ['encryptionKey data-key accounts (rk1)', 'cookieSecret data-key sources (fernet-sha256)'],
    );
    assert.match(rk1[1]?.note ?? '', /REDASH_SECRET_KEY also signs cookies/);
    assert.match(rk1[0]?.stopsWorking ?? '', /ciphertext outside the configured columns/);
    const redash = fieldImpacts(redashConfig());
    assert.equal(redash[0]?.role, 'data-key');
    const withSpare = parseConfig({
      ...config(),
      secretTemplate: {
        ...config().secretTemplate,
        spareKey: { kind: 'aes-256' },
        csrf: { kind: 'token', length: 32 },
      },
    });
    const byField = Object.fromEntries(fieldImpacts(withSpare).map((f) => [f.field, f]));
    assert.equal(byField.spareKey?.role, 'unused-key');
    assert.match(
      byField.spareKey?.stopsWorking ?? '',
      /list it in storedFields or keep it out of the template/,
    );
    assert.equal(byField.csrf?.role, 'token');
    assert.match(byField.csrf?.keepsWorking ?? '', /AWSPREVIOUS as a fallback/);
  });
});
