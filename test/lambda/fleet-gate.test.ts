import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { parseConfig, type RekeyConfig } from '../../lambda/config.js';
import { ConfigError, FleetLagError, UnexpectedAnswerError } from '../../lambda/errors.js';
import { type FleetWant, readFleet, waitForFleet } from '../../lambda/fleet-gate.js';
import { heartbeatStatement, heartbeatTableSchema } from '../../lambda/heartbeat.js';
import { memoryLog } from '../../lambda/log.js';
import type { SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { fakeClock } from '../support/fake-clock.js';
import { pgliteRunner } from '../support/pglite-runner.js';

/** Three versions of a two-key template: one key per table (public test keys). */
const value = (n: number) =>
  JSON.stringify({
    encryptionKey: Buffer.alloc(32, n).toString('base64'),
    auditKey: Buffer.alloc(32, n + 100).toString('base64'),
  });
const PREVIOUS = value(1);
const CURRENT = value(2);
const PENDING = value(3);
const kid = (secret: string, field: string) => dataKeyFromSecretString(secret, field, 'rk1').kid;
const K = {
  previous: kid(PREVIOUS, 'encryptionKey'),
  current: kid(CURRENT, 'encryptionKey'),
  pending: kid(PENDING, 'encryptionKey'),
  auditCurrent: kid(CURRENT, 'auditKey'),
  auditPending: kid(PENDING, 'auditKey'),
};
const PROMOTE: FleetWant = { act: 'promote', pending: PENDING, current: CURRENT, previous: PREVIOUS };
const START: FleetWant = { act: 'start', current: CURRENT };
const DB_NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const FLEET = { liveWithinMs: 60_000, waitMs: 30_000, pollMs: 5_000 };

function config(fleet: object | null = FLEET): RekeyConfig {
  return parseConfig({
    secretTemplate: { encryptionKey: { kind: 'aes-256' }, auditKey: { kind: 'aes-256' } },
    dataKeyField: 'encryptionKey',
    storedFields: [
      { table: 'data_sources', id: 'id', columns: ['options'] },
      { table: 'audit', id: 'id', columns: ['entry'], dataKeyField: 'auditKey' },
    ],
    dataApi: {
      resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
      secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
      database: 'test',
      engine: 'postgres',
    },
    ...(fleet ? { fleet } : {}),
  });
}

/** A heartbeat row as the table read returns it: [db now, id, held, encrypting, seen]. */
const row = (id: string, held: string[], encrypting: string[], ageMs = 1_000): SqlValue[] => [
  DB_NOW,
  id,
  held.join(','),
  encrypting.join(','),
  DB_NOW - ageMs,
];

/** A SQL runner that answers the catalog check and then one scripted table read per poll. */
function fakeDb(
  polls: (poll: number) => SqlValue[][],
  options: { tableExists?: boolean } = {},
): SqlRunner & { statements: string[] } {
  const statements: string[] = [];
  let poll = 0;
  return {
    statements,
    dialect: 'postgres',
    async execute(sql): Promise<SqlResult> {
      statements.push(sql);
      if (sql.includes('to_regclass')) return { rows: [[options.tableExists === false ? 0 : 1]], updated: 0 };
      return { rows: polls(poll++), updated: 0 };
    },
    begin: async () => 'tx',
    commit: async () => undefined,
    rollback: async () => undefined,
  };
}

function deps(db: SqlRunner, cfg = config()) {
  const clock = fakeClock(1_000_000);
  return { db, clock, log: memoryLog(), config: cfg, deadline: clock.now() + 15 * 60_000 };
}

const caughtUp = (id: string) =>
  row(id, [K.current, K.pending, K.previous, K.auditCurrent, K.auditPending], [K.current, K.auditCurrent]);
const behind = (id: string) =>
  row(id, [K.current, K.previous, K.auditCurrent], [K.current, K.auditCurrent], 2_000);

describe('the fleet gate', () => {
  it('sends no statement at all when the config has no fleet section', async () => {
    const db = fakeDb(() => {
      throw new Error('must not read');
    });
    await waitForFleet(deps(db, config(null)), PROMOTE);
    assert.deepEqual(db.statements, []);
  });

  it('lets a promotion through at once when every live reader holds the pending keys', async () => {
    const db = fakeDb(() => [caughtUp('web-1'), caughtUp('web-2')]);
    const d = deps(db);
    await waitForFleet(d, PROMOTE);
    assert.deepEqual(d.clock.slept, []);
    assert.equal(db.statements.length, 2, 'the catalog check and one read');
  });

  it('waits, polling every pollMs, until a lagging reader has reloaded', async () => {
    const db = fakeDb((poll) => [caughtUp('web-1'), poll < 2 ? behind('web-2') : caughtUp('web-2')]);
    const d = deps(db);
    await waitForFleet(d, PROMOTE);
    assert.deepEqual(d.clock.slept, [5_000, 5_000]);
  });

  it('fails after waitMs with the lagging readers named, their key ids and last heartbeat, no key', async () => {
    const db = fakeDb(() => [caughtUp('web-1'), behind('worker-7')]);
    const d = deps(db);
    const error = await waitForFleet(d, PROMOTE).then(
      () => assert.fail('must not pass'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof FleetLagError);
    assert.deepEqual(
      error.lagging.map((r) => r.instanceId),
      ['worker-7'],
    );
    assert.deepEqual(error.lagging[0]?.keyIds, [K.current, K.previous, K.auditCurrent]);
    assert.deepEqual(error.lagging[0]?.encryptKeyIds, [K.current, K.auditCurrent]);
    assert.equal(error.lagging[0]?.lastHeartbeat, new Date(DB_NOW - 2_000).toISOString());
    assert.match(error.message, /worker-7 \(holds .*last heartbeat 2026-12-01T11:59:58\.000Z\)/);
    assert.doesNotMatch(error.message, /web-1/);
    assert.ok(d.clock.now() - 1_000_000 <= FLEET.waitMs, 'never waits past waitMs');
    assert.equal(error.waitedMs, 30_000);
    for (const secret of [PREVIOUS, CURRENT, PENDING]) {
      for (const key of Object.values(JSON.parse(secret)) as string[])
        assert.ok(!error.message.includes(key));
    }
  });

  it('never waits past the deadline less the safety margin', async () => {
    const db = fakeDb(() => [behind('web-2')]);
    const d = deps(db, config({ ...FLEET, waitMs: 600_000 }));
    const started = d.clock.now();
    const deadline = started + 60_000;
    await assert.rejects(waitForFleet({ ...d, deadline }, PROMOTE), FleetLagError);
    assert.ok(d.clock.now() <= deadline - d.config.safetyMarginMs);
  });

  it('ignores readers whose last heartbeat is older than liveWithinMs', async () => {
    const dead = row('crashed-3', [K.previous], [K.previous], FLEET.liveWithinMs + 1);
    const db = fakeDb(() => [caughtUp('web-1'), dead]);
    await waitForFleet(deps(db), PROMOTE);
    await waitForFleet(deps(fakeDb(() => [caughtUp('web-1'), dead])), START);
  });

  it('counts a reader whose heartbeat is exactly liveWithinMs old as live', async () => {
    const edge = row('web-9', [K.current], [K.current], FLEET.liveWithinMs);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [edge])), PROMOTE), FleetLagError);
  });

  it('holds a promotion for a reader that holds the pending keys but encrypts with the key it unstages', async () => {
    const stale = row('old-writer', [K.previous, K.current, K.pending, K.auditPending], [K.previous]);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [stale])), PROMOTE), /old-writer/);
  });

  it('fails closed on a live reader that reports no key id of any staged version', async () => {
    const stranger = row('other-app', ['AAAAAAAA'], ['AAAAAAAA']);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [stranger])), PROMOTE), /other-app/);
    const silent = row('no-rings', [], []);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [silent])), START), /no-rings/);
  });

  it('asks of a reader with one ring only the pending key of the field it follows', async () => {
    const auditOnly = row('audit-worker', [K.auditCurrent, K.auditPending], [K.auditCurrent]);
    await waitForFleet(deps(fakeDb(() => [auditOnly])), PROMOTE);
    const halfway = row('two-rings', [K.current, K.pending, K.auditCurrent], [K.current, K.auditCurrent]);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [halfway])), PROMOTE), /two-rings/);
  });

  it('starts a rotation only once every live reader encrypts with AWSCURRENT', async () => {
    const straggler = row('web-4', [K.current, K.previous], [K.previous]);
    await assert.rejects(waitForFleet(deps(fakeDb(() => [straggler])), START), /web-4.*encrypts with/);
    const ok = row('web-4', [K.current, K.previous, K.auditCurrent], [K.current, K.auditCurrent]);
    await waitForFleet(deps(fakeDb(() => [ok])), START);
  });

  it('passes with no live reader at all (an empty table answers the database time alone)', async () => {
    await waitForFleet(deps(fakeDb(() => [[DB_NOW, null, null, null, null]])), PROMOTE);
  });

  it('refuses to take a missing heartbeat table for an empty fleet', async () => {
    const db = fakeDb(() => [], { tableExists: false });
    await assert.rejects(
      waitForFleet(deps(db), PROMOTE),
      (e: unknown) =>
        e instanceof ConfigError &&
        /rekey_readers.*does not exist.*create it.*docs\/apps\.md/.test(e.message),
    );
  });

  it('fails closed on an answer without rows rather than read it as no readers', async () => {
    await assert.rejects(waitForFleet(deps(fakeDb(() => [])), PROMOTE), UnexpectedAnswerError);
  });
});

describe('the fleet section of the config', () => {
  it('is absent unless given, and takes its documented defaults when given empty', () => {
    assert.equal(config(null).fleet, undefined);
    assert.deepEqual(config({}).fleet, {
      table: 'rekey_readers',
      liveWithinMs: 120_000,
      waitMs: 600_000,
      pollMs: 10_000,
    });
  });

  it('refuses a table name that could carry SQL, naming the field', () => {
    assert.throws(
      () => config({ table: 'x; DROP TABLE users' }),
      /fleet\.table must be a plain SQL identifier/,
    );
  });
});

describe('the heartbeat statement', () => {
  it('refuses a table name that is not a plain identifier and an empty instance id', () => {
    const ring = { keyIds: ['a'], currentKeyId: 'a' };
    assert.throws(
      () => heartbeatStatement({ engine: 'postgres', instanceId: 'x', rings: [ring], table: 'a; drop' }),
      ConfigError,
    );
    assert.throws(() => heartbeatStatement({ engine: 'mysql', instanceId: '', rings: [ring] }), ConfigError);
  });

  it('binds one value per placeholder for MySQL and PostgreSQL drivers, and names them for the Data API', () => {
    const rings = [
      { keyIds: ['k1', 'k2'], currentKeyId: 'k1' },
      { keyIds: ['k2', 'k3'], currentKeyId: 'k3' },
    ];
    const mysql = heartbeatStatement({ engine: 'mysql', instanceId: 'i', rings });
    assert.equal(mysql.sql.split('?').length - 1, mysql.values.length);
    assert.deepEqual(mysql.params, { instance_id: 'i', key_ids: 'k1,k2,k3', encrypt_key_ids: 'k1,k3' });
    const pg = heartbeatStatement({ engine: 'postgres', instanceId: 'i', rings });
    assert.deepEqual(pg.values, ['i', 'k1,k2,k3', 'k1,k3']);
    assert.match(pg.sql, /\$3, CURRENT_TIMESTAMP\)/);
    const named = heartbeatStatement({ engine: 'postgres', instanceId: 'i', rings, placeholders: 'named' });
    assert.match(named.sql, /:instance_id, :key_ids, :encrypt_key_ids, CURRENT_TIMESTAMP/);
  });

  it('round-trips through the documented schema on PostgreSQL: upserts, and the gate reads it', async () => {
    const db = await pgliteRunner();
    await db.execute(heartbeatTableSchema('postgres'));
    const beat = async (instanceId: string, held: string[], current: string) => {
      const { sql, params } = heartbeatStatement({
        engine: 'postgres',
        instanceId,
        rings: [{ keyIds: held, currentKeyId: current }],
        placeholders: 'named',
      });
      await db.execute(sql, params);
    };
    await beat('web-1', [K.current, K.previous], K.current);
    await beat('web-2', [K.current], K.current);
    await beat('web-1', [K.current, K.auditCurrent], K.current);
    const snapshot = await readFleet(db, 'rekey_readers');
    assert.deepEqual(snapshot.readers.map((r) => [r.instanceId, r.keyIds, r.encryptKeyIds]).sort(), [
      ['web-1', [K.current, K.auditCurrent], [K.current]],
      ['web-2', [K.current], [K.current]],
    ]);
    for (const r of snapshot.readers) assert.ok(Math.abs(snapshot.now - r.seenAt) < 60_000);
    // A heartbeat from an hour ago, in the database's own time, is not live.
    await db.execute(
      `UPDATE rekey_readers SET seen_at = seen_at - INTERVAL '1 hour' WHERE instance_id = 'web-2'`,
    );
    const pgDeps = { ...deps(db), config: config({ ...FLEET, waitMs: 0 }) };
    await assert.rejects(waitForFleet(pgDeps, PROMOTE), (e: unknown) => {
      assert.ok(e instanceof FleetLagError);
      assert.deepEqual(
        e.lagging.map((r) => r.instanceId),
        ['web-1'],
        'web-1 lacks the pending keys; web-2 is not live',
      );
      return true;
    });
    await db.execute('DROP TABLE rekey_readers');
    await assert.rejects(waitForFleet(pgDeps, PROMOTE), ConfigError);
  });
});
