import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { rk1KeyIdOf } from '../../lambda/codecs/rk1.js';
import { heartbeatStatement, heartbeatTableSchema, KeyRing } from '../../lambda/reader.js';
import { type LocalWorld, startLocalWorld } from '../support/local-world.js';

/**
 * A fleet of ten key-ring readers with different habits, heartbeating through the app's own connection
 * (here the local Data API), across three rotations with the fleet gate on. Time is the world's fake
 * clock: the gate's polls move it, so readers refresh and heartbeat while a step waits; the heartbeats'
 * ages are the database's own time, in which the whole test is a few seconds.
 */

const FIELDS = [
  { table: 'notes', column: 'body', field: 'encryptionKey' },
  { table: 'audit', column: 'entry', field: 'auditKey' },
] as const;
const READERS = { maxAgeMs: 30_000, marginMs: 5_000 };
/** liveWithinMs is database (real) time: the test runs in far less; the dead reader beat an hour ago. */
const FLEET = { liveWithinMs: 10 * 60_000, waitMs: 90_000, pollMs: 3_000 };
const FIRST_VALUE = JSON.stringify({
  encryptionKey: Buffer.alloc(32, 7).toString('base64'),
  auditKey: Buffer.alloc(32, 8).toString('base64'),
});
/** Real-time pause between two operations of a reader (pacing, not waiting on time). */
const PAUSE_MS = 5;

const configFor = () => ({
  secretTemplate: { encryptionKey: { kind: 'aes-256' as const }, auditKey: { kind: 'aes-256' as const } },
  dataKeyField: 'encryptionKey',
  storedFields: [
    { table: 'notes', id: 'id', columns: ['body'] },
    { table: 'audit', id: 'id', columns: ['entry'], dataKeyField: 'auditKey' },
  ],
  readers: READERS,
  fleet: FLEET,
});

interface Habit {
  /** Reload both rings every so often (fake ms); otherwise only the rings' own maxAgeMs refresh. */
  readonly refreshEveryMs?: number;
  readonly beatEveryMs: number;
  readonly reads: boolean;
  readonly writes: boolean;
  /** The rings' maxAgeMs; above the rotation's readers.maxAgeMs only for the laggard. */
  readonly maxAgeMs: number;
}

let nextId = 1;

/** One app instance: a ring per data key field, its own loop of reads and writes, and its heartbeat. */
class Reader {
  readFailures: string[] = [];
  reads = 0;
  writes = 0;
  private lastBeat = Number.NEGATIVE_INFINITY;
  private lastRefresh: number;
  private stopped = false;
  private loop: Promise<void> | undefined;

  private constructor(
    readonly name: string,
    readonly habit: Habit,
    private readonly w: LocalWorld,
    readonly rings: readonly KeyRing[],
  ) {
    this.lastRefresh = w.clock.now();
  }

  static async start(name: string, habit: Habit, w: LocalWorld, secretId: string): Promise<Reader> {
    const rings = await Promise.all(
      FIELDS.map((f) =>
        KeyRing.load({
          client: w.sm,
          secretId,
          dataKeyField: f.field,
          clock: w.clock,
          maxAgeMs: habit.maxAgeMs,
          minRefreshIntervalMs: 1_000,
        }),
      ),
    );
    const reader = new Reader(name, habit, w, rings);
    await reader.beat();
    reader.loop = reader.run();
    return reader;
  }

  async beat(): Promise<void> {
    const { sql, params } = heartbeatStatement({
      engine: 'postgres',
      instanceId: this.name,
      rings: this.rings,
      placeholders: 'named',
    });
    await this.w.db.execute(sql, params);
    this.lastBeat = this.w.clock.now();
  }

  async refresh(): Promise<void> {
    await Promise.all(this.rings.map((r) => r.refresh()));
    this.lastRefresh = this.w.clock.now();
  }

  private async run(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      const now = this.w.clock.now();
      if (this.habit.refreshEveryMs !== undefined && now - this.lastRefresh >= this.habit.refreshEveryMs)
        await this.refresh();
      const f = FIELDS[n % FIELDS.length] as (typeof FIELDS)[number];
      const ring = this.rings[n % FIELDS.length] as KeyRing;
      // Writes on every third operation keep the tables to a few thousand rows over the whole test.
      if (this.habit.writes && n % 3 === 0) {
        const stored = await ring.encrypt(`${this.name} wrote ${n}`, f);
        await this.w.db.execute(`INSERT INTO ${f.table} (id, ${f.column}) VALUES (:id, :v)`, {
          id: nextId++,
          v: stored,
        });
        this.writes++;
      }
      if (this.habit.reads) await this.read(f, ring, n);
      if (this.w.clock.now() - this.lastBeat >= this.habit.beatEveryMs) await this.beat();
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  }

  private async read(f: (typeof FIELDS)[number], ring: KeyRing, n: number): Promise<void> {
    const r = await this.w.db.execute(
      `SELECT ${f.column} FROM ${f.table} ORDER BY id DESC LIMIT 1 OFFSET ${(n * 7919) % 50}`,
    );
    const stored = r.rows[0]?.[0];
    if (typeof stored !== 'string') return;
    try {
      await ring.decryptString(stored, f);
      this.reads++;
    } catch (error) {
      this.readFailures.push(`${this.name}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

const HABITS: Record<string, Habit> = {
  eager: { refreshEveryMs: 3_000, beatEveryMs: 2_000, reads: true, writes: true, maxAgeMs: 30_000 },
  steady: { refreshEveryMs: 12_000, beatEveryMs: 6_000, reads: true, writes: true, maxAgeMs: 30_000 },
  bound: { beatEveryMs: 10_000, reads: true, writes: true, maxAgeMs: READERS.maxAgeMs },
  readOnly: { beatEveryMs: 15_000, reads: true, writes: false, maxAgeMs: READERS.maxAgeMs },
  writeOnly: { beatEveryMs: 5_000, reads: false, writes: true, maxAgeMs: 20_000 },
  /** Outside the reader contract: a day-long bound and no reads, so nothing makes it reload. */
  laggard: { beatEveryMs: 5_000, reads: false, writes: true, maxAgeMs: 24 * 60 * 60_000 },
};

describe('a fleet of ten key-ring readers across three rotations with the fleet gate on', () => {
  let w: LocalWorld;
  before(async () => {
    w = await startLocalWorld(configFor);
  });
  after(() => w.close());

  it('promotes only once every live reader holds the new keys, fails naming a laggard, and no read fails', async () => {
    for (const f of FIELDS)
      await w.db.execute(`CREATE TABLE ${f.table} (id bigint PRIMARY KEY, ${f.column} text)`);
    await w.db.execute(heartbeatTableSchema('postgres'));
    const arn = await w.createSecret(FIRST_VALUE);
    const firstKids = FIELDS.map((f) => dataKeyFromSecretString(FIRST_VALUE, f.field, 'rk1').kid);
    // A reader that started an hour ago, beat once and died: not live, though it holds only old keys.
    await w.db.execute(
      `INSERT INTO rekey_readers VALUES ('dead-8', :k, :k, CURRENT_TIMESTAMP - INTERVAL '1 hour')`,
      { k: firstKids.join(',') },
    );
    const fleet = [
      await Reader.start('eager-0', HABITS.eager as Habit, w, arn),
      await Reader.start('eager-1', HABITS.eager as Habit, w, arn),
      await Reader.start('steady-2', HABITS.steady as Habit, w, arn),
      await Reader.start('bound-3', HABITS.bound as Habit, w, arn),
      await Reader.start('bound-4', HABITS.bound as Habit, w, arn),
      await Reader.start('bound-5', HABITS.bound as Habit, w, arn),
      await Reader.start('read-only-6', HABITS.readOnly as Habit, w, arn),
      await Reader.start('write-only-7', HABITS.writeOnly as Habit, w, arn),
    ];
    const stagedRowsChecked: number[] = [];
    const check = async (label: string) =>
      stagedRowsChecked.push(await everyRowUnderAStagedKey(w, arn, label));
    const gateWaits = () =>
      w.log.entries.filter((e) => String(e.message).startsWith('fleet: waiting')).length;
    try {
      // Rotations 1 and 2: each step's gate waits while the fleet catches up, then lets it through.
      for (const round of [1, 2]) {
        if (round > 1) w.clock.advance(READERS.maxAgeMs + READERS.marginMs);
        await w.rotate(arn);
        assert.equal(
          lastEvent(w).type,
          'RotationSucceeded',
          `rotation ${round}: ${JSON.stringify(lastEvent(w))}`,
        );
        await check(`after rotation ${round}`);
      }
      assert.ok(gateWaits() >= 1, 'the gate held a step while readers caught up');
      // Rotation 3: a laggard joined; promotion waits for it, then fails and names it.
      const laggard = await Reader.start('laggard-9', HABITS.laggard as Habit, w, arn);
      fleet.push(laggard);
      w.clock.advance(READERS.maxAgeMs + READERS.marginMs);
      const token = await w.rotate(arn);
      const failed = lastEvent(w) as {
        type: string;
        step?: string;
        error?: { name: string; message: string };
      };
      assert.equal(failed.type, 'RotationFailed');
      assert.equal(failed.step, 'finishSecret');
      assert.equal(failed.error?.name, 'FleetLagError');
      assert.match(failed.error?.message ?? '', /^1 live readers lag .*laggard-9 \(holds /);
      assert.doesNotMatch(failed.error?.message ?? '', /eager|bound|dead-8/);
      assert.deepEqual(await stagesOf(w, arn, token), ['AWSPENDING'], 'nothing promoted');
      await check('after the refused promotion');

      // The operator has the laggard reload; the service's next attempt promotes.
      await laggard.refresh();
      await laggard.beat();
      await w.rotate(arn).catch((error: Error) => assert.match(error.message, /will be reattempted/));
      await w.local.secretsManager.idle();
      assert.equal(lastEvent(w).type, 'RotationSucceeded', JSON.stringify(lastEvent(w)));
      assert.deepEqual(await stagesOf(w, arn, token), ['AWSCURRENT']);
      await check('after rotation 3');

      // The next rotation's start waits for the laggard (a day-long bound) to encrypt with AWSCURRENT.
      w.clock.advance(READERS.maxAgeMs + READERS.marginMs);
      await w.rotate(arn);
      const refused = lastEvent(w) as { type: string; step?: string; error?: { message: string } };
      assert.equal(refused.step, 'createSecret');
      assert.match(refused.error?.message ?? '', /encrypts with AWSCURRENT.*laggard-9/);
    } finally {
      for (const r of fleet) await r.stop();
    }
    await check('at the end');
    const failures = fleet.flatMap((r) => r.readFailures);
    assert.deepEqual(failures, [], 'zero failed reads');
    const reads = fleet.reduce((n, r) => n + r.reads, 0);
    const writes = fleet.reduce((n, r) => n + r.writes, 0);
    assert.ok(reads > 0 && writes > 0);
    const succeeded = w.local.secretsManager.events().filter((e) => e.type === 'RotationSucceeded').length;
    assert.equal(succeeded, 3);
    // The figures for the closing note (stdout of the test run).
    console.log(
      `fleet: 10 readers (1 dead, 1 laggard), ${succeeded} rotations promoted, ${reads} reads (0 failed), ` +
        `${writes} writes, rows checked under staged keys ${stagedRowsChecked.join('/')}, gate waits ${gateWaits()}`,
    );
  });
});

function lastEvent(w: LocalWorld) {
  return w.local.secretsManager.events().at(-1) as { type: string };
}

async function stagesOf(w: LocalWorld, arn: string, token: string): Promise<string[]> {
  const d = await w.sm.send(new DescribeSecretCommand({ SecretId: arn }));
  return d.VersionIdsToStages?.[token] ?? [];
}

/** Every stored value's key id is one the versions staged now hold for its field: none under an unstaged key. */
async function everyRowUnderAStagedKey(w: LocalWorld, arn: string, label: string): Promise<number> {
  const staged = new Map<string, Set<string>>(FIELDS.map((f) => [f.table, new Set<string>()]));
  for (const stage of ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
    const value = await w.sm
      .send(new GetSecretValueCommand({ SecretId: arn, VersionStage: stage }))
      .then((o) => o.SecretString)
      .catch(() => undefined);
    if (value === undefined) continue;
    for (const f of FIELDS) staged.get(f.table)?.add(dataKeyFromSecretString(value, f.field, 'rk1').kid);
  }
  let rows = 0;
  for (const f of FIELDS) {
    const r = await w.db.execute(`SELECT id, ${f.column} FROM ${f.table}`);
    for (const [id, stored] of r.rows) {
      const kid = rk1KeyIdOf(String(stored));
      assert.ok(
        kid && staged.get(f.table)?.has(kid),
        `${label}: ${f.table} row ${id} is under an unstaged key`,
      );
      rows++;
    }
  }
  return rows;
}
