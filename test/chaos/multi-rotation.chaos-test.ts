import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { abortRotation } from '../../lambda/abort.js';
import { dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { MARK_TAGS } from '../../lambda/rotation-marks.js';
import { directPostgresRunner } from '../../local/direct-postgres.js';
import type { EngineSpec, LocalEndpoints, RotationEventRecord } from '../../local/index.js';
import { Hygiene } from '../support/chaos-hygiene.js';
import type { AppInstance } from '../support/chaos-multi-app.js';
import {
  MULTI_READERS,
  MULTI_STAGE_CHECK_MS,
  MultiRotation,
  type StepRecord,
  short,
} from '../support/chaos-multi-harness.js';
import { directMysqlRunner, engineRunner } from '../support/chaos-sql.js';
import { chaosSecret } from '../support/chaos-world.js';

/**
 * Issue 10: at every instant every stored field decrypts under a version staged AWSCURRENT, AWSPENDING
 * or AWSPREVIOUS, and no application write is lost, across several rotations, app instances with
 * their own key rings, and operators acting while steps run. One scenario per engine, on one virtual
 * clock (the reader bound is a second here, crossed by moving the clock):
 *
 * 1. the app starts: a read-mostly, a write-only and an edge-of-bound instance, each with its own rings;
 * 2. rotation 1 through the service (RotateSecret, the rotation function in process); mid-setSecret a
 *    fourth instance loads (holding the pending key); the edge instance reloads right before every
 *    promotion, so it is the stalest a ring within the bound can be;
 * 3. after every promotion the app writes at half the bound, at its edge and past it, then the sweep
 *    runs, after which every field must be under AWSCURRENT;
 * 4. a rotation started inside the bound must be refused by createSecret;
 * 5. rotation 2 (that refused rotation, reattempted once the bound passed) with `rekey resume` racing
 *    the service's running setSecret;
 * 6. rotation 3 with `rekey abort` racing the service's running setSecret;
 * 7. rotation 4 through the service;
 * 8. every row is read back, through a fresh key ring, as last written.
 *
 * After every step, mid-setSecret and after every sweep, the app is held between two operations and
 * every stored field is checked (ChaosWorld.assertIntact); every app write is checked against the
 * reader bound when it is made.
 */
const hygiene = new Hygiene('several rotations, app instances and operators');
const pgUrl = process.env.REKEY_TEST_PG_URL;
const mysqlUrl = process.env.REKEY_TEST_MYSQL_URL;
const { maxAgeMs, marginMs } = MULTI_READERS;
const BOUND = maxAgeMs + marginMs;
/**
 * Where the service's setSecret is held for a race or a load: the second page written of the column
 * the app never writes (so the rows already under the pending key stay there until the rotation or
 * the abort moves them).
 */
const HOLD = { column: 'extra', update: 2 } as const;
/** The least time between an operator's or the schedule's acts (more than the rings' reload limit). */
const NEXT_ACT_MS = 100;

const runs: {
  label: string;
  engine: EngineSpec;
  app: (local: LocalEndpoints) => Promise<SqlRunner & { close?(): Promise<void> }>;
  skip: string | false;
}[] = [
  {
    label: 'embedded PostgreSQL',
    engine: 'pglite',
    app: async (local) => engineRunner(local.engine),
    skip: false,
  },
  {
    label: 'a real PostgreSQL server',
    engine: { postgresUrl: pgUrl ?? '' },
    app: () => directPostgresRunner(pgUrl as string),
    skip: pgUrl ? false : 'REKEY_TEST_PG_URL is not set',
  },
  {
    label: 'a real MariaDB server',
    engine: { mysqlUrl: mysqlUrl ?? '' },
    app: () => directMysqlRunner(mysqlUrl as string),
    skip: mysqlUrl ? false : 'REKEY_TEST_MYSQL_URL is not set',
  },
];

let rotations = 0;
let readers = 0;
let appWrites = 0;
let operatorRaces = 0;
after(() => {
  hygiene.report({ rotations, readers, appWrites, operatorRaces, lost: 0 });
  hygiene.assertClean();
});

for (const run of runs) {
  describe(`several rotations with app instances and operators racing the steps, on ${run.label}`, {
    skip: run.skip,
  }, () => {
    let m: MultiRotation;
    let completed = false;
    /** What the guarantees that depend on work in progress found (each its own test below). */
    const findings = { refusal: [] as string[], abort: [] as string[], resume: [] as string[] };
    before(async () => {
      m = await MultiRotation.start({
        engine: run.engine,
        prefix: `rekey_chaos_m${process.pid}_`,
        hygiene,
        app: run.app,
        rows: 12,
        maxRows: 3,
      });
    });
    after(async () => {
      await m?.close();
    });

    it('keeps every field under a staged version at every checkpoint and loses no app write', async () => {
      const label = run.label;
      const noFailures = (where: string) => {
        assert.deepEqual(m.fleet.failures, [], `${label}, ${where}: every app read and write succeeded`);
        assert.deepEqual(m.checkFailures, [], `${label}, ${where}: every checkpoint held`);
      };
      const currentId = async () =>
        Object.entries(await m.stages()).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      const assertPromoted = async (
        token: string,
        previous: string | undefined,
        events: RotationEventRecord[],
      ) => {
        const stages = await m.stages();
        assert.ok(
          events.some((e) => e.type === 'RotationSucceeded'),
          `${label}: rotation ${short(token)} succeeded (${describeEvents(events)})`,
        );
        assert.deepEqual(stages[token], ['AWSCURRENT'], `${label}: ${short(token)} is AWSCURRENT`);
        if (previous)
          assert.deepEqual(stages[previous], ['AWSPREVIOUS'], `${label}: the old version is AWSPREVIOUS`);
        assert.equal(m.promotions.get(token), 1, `${label}: ${short(token)} was promoted exactly once`);
      };
      /**
       * A rotation starts once the bound allows it, and never in the very instant of the last act: a real
       * schedule or operator takes time, and a key ring allows itself one on-demand reload per
       * `minRefreshIntervalMs`: rows re-encrypted within that interval after its last one stay unreadable
       * to it until the interval has passed (in one frozen instant, forever).
       */
      const nextRotation = () =>
        m.clock.advanceTo(Math.max(m.lastPromotionAt() + BOUND + 1, m.clock.now() + NEXT_ACT_MS));
      let sweeps = 0;
      let swept = 0;
      /** After a promotion: the app at half the bound, at its edge and past it; then the sweep. */
      const afterPromotion = async (n: number) => {
        const p = m.lastPromotionAt();
        const at = `${label}, after rotation ${n}`;
        m.clock.advanceTo(p + maxAgeMs / 2);
        await m.fleet.eachWrites(1, `${at}, half the bound on`);
        m.clock.advanceTo(p + maxAgeMs - 1);
        await m.fleet.eachWrites(1, `${at}, at the edge of the bound`);
        m.clock.advanceTo(p + maxAgeMs + 1);
        await m.fleet.eachWrites(2, `${at}, past the bound`);
        swept += await m.sweep();
        sweeps++;
        await m.checkpoint(`${at} and the sweep: every field under AWSCURRENT`, ['AWSCURRENT']);
        noFailures(`after rotation ${n}`);
      };

      await m.begin(chaosSecret(`multi-${run.label}`));
      await m.addInstance('read-mostly', 0, { readShare: 0.8 });
      await m.addInstance('write-only', 1, { readShare: 0 });
      const edge = await m.addInstance('edge-of-bound', 2, { readShare: 0.3 });
      m.beforeStep = async (step) => {
        if (step === 'finishSecret') await edge.refresh();
      };
      await m.fleet.eachWrites(2, `${label}: the app starts`);
      // The app has been up for longer than the bound when the first rotation comes.
      m.clock.advance(BOUND + 1);
      await m.checkpoint(`${label}: before the first rotation`);
      const promoted: string[] = [];

      // Rotation 1, with an instance that loads mid-setSecret.
      const t1 = randomUUID();
      let previous = await currentId();
      const gate1 = m.armGate(t1, 'setSecret', HOLD);
      let since = await m.startRotation(t1);
      await m.reached(gate1, `${label} rotation 1`);
      const midSet: AppInstance = await m.addInstance('loaded-mid-setSecret', 3, { readShare: 0.5 });
      const pending = (await m.valueAt('AWSPENDING')) as string;
      const rk1Table = m.targets.find((t) => t.codec === 'rk1')?.table as string;
      assert.ok(
        midSet.keyIds(rk1Table).includes(dataKeyFromSecretString(pending, 'encryptionKey', 'rk1').kid),
        `${label}: the instance loaded mid-setSecret holds the pending key`,
      );
      await m.fleet.opsOf(midSet, 6, `${label} rotation 1, mid-setSecret`);
      await m.checkpoint(`${label} rotation 1: mid-setSecret, with an instance loaded now`);
      gate1.release();
      await assertPromoted(t1, previous, await m.settle(since, `${label} rotation 1`));
      promoted.push(t1);
      noFailures('rotation 1');
      await afterPromotion(1);

      // A rotation inside the bound: createSecret must refuse it, before anything is written.
      const t2 = randomUUID();
      const p1 = m.lastPromotionAt();
      m.clock.advanceTo(p1 + maxAgeMs + marginMs / 2);
      m.probing = true;
      since = await m.startRotation(t2);
      const probe = await m.settle(since, `${label}: a rotation inside the bound`);
      m.probing = false;
      const creates = m.steps.filter((s) => s.token === t2 && s.step === 'createSecret');
      const accepted = creates.filter((s) => s.error === undefined).length;
      if (accepted > 0 || creates.length === 0) {
        findings.refusal.push(
          `createSecret went ahead ${maxAgeMs + marginMs / 2} ms after the last promotion (bound ${BOUND} ms): ${describeEvents(probe)}`,
        );
      }
      for (const s of creates) {
        if (s.error && s.error.name !== 'RotationStateError')
          findings.refusal.push(`createSecret refused with ${s.error.name}: ${s.error.message}`);
      }
      await m.checkpoint(`${label}: after the rotation refused inside the bound`);
      noFailures('the refused rotation');

      // Rotation 2: the refused rotation, reattempted past the bound, with `rekey resume` racing setSecret.
      nextRotation();
      previous = await currentId();
      const gate2 = m.armGate(t2, 'setSecret', HOLD);
      since = await m.startRotation(t2);
      const resumed = await m.race(gate2, `${label} rotation 2`, (deps) => m.resume(t2, deps));
      operatorRaces++;
      const events2 = await m.settle(since, `${label} rotation 2`);
      const resumeRaced = m.steps.find((s) => s.token === t2 && s.step === 'setSecret' && s.by === 'service');
      if (!resumed.ok) findings.resume.push(`resume failed: ${errorText(resumed.error)}`);
      if ((m.promotions.get(t2) ?? 0) !== 1)
        findings.resume.push(`${short(t2)} was promoted ${m.promotions.get(t2) ?? 0} times`);
      if (!(await m.stages())[t2]?.includes('AWSCURRENT')) {
        findings.resume.push(`${short(t2)} is not AWSCURRENT after the race (${describeEvents(events2)})`);
        await m.resume(t2, m.operatorDeps(m.clock.passing));
      }
      const stages2 = await m.stages();
      assert.deepEqual(stages2[t2], ['AWSCURRENT'], `${label}: ${short(t2)} is AWSCURRENT`);
      if (previous)
        assert.deepEqual(stages2[previous], ['AWSPREVIOUS'], `${label}: the old version is AWSPREVIOUS`);
      promoted.push(t2);
      noFailures('rotation 2');
      await afterPromotion(2);

      // Rotation 3, with `rekey abort` racing setSecret: the step stops, abort moves every row back.
      nextRotation();
      const t3 = randomUUID();
      const gate3 = m.armGate(t3, 'setSecret', HOLD);
      since = await m.startRotation(t3);
      const aborted = await m.race(gate3, `${label} rotation 3`, (deps) => abortRotation(m.arn, deps));
      operatorRaces++;
      const events3 = await m.settle(since, `${label} rotation 3`);
      const abortRaced = m.steps.find((s) => s.token === t3 && s.step === 'setSecret' && s.by === 'service');
      if (abortRaced?.error?.name !== 'RotationStateError') {
        findings.abort.push(
          `the setSecret that abort raced ended ${abortRaced?.error ? `with ${abortRaced.error.name}: ${abortRaced.error.message}` : 'without an error'}`,
        );
      }
      if (!aborted.ok) findings.abort.push(`abort failed: ${errorText(aborted.error)}`);
      if (aborted.sleptMs === undefined)
        findings.abort.push('abort never waited (deps.clock.sleep) for running steps');
      else if (aborted.sleptMs < MULTI_STAGE_CHECK_MS)
        findings.abort.push(`abort waited ${aborted.sleptMs} ms, less than stageCheckIntervalMs`);
      if (events3.some((e) => e.type === 'RotationSucceeded') || m.promotions.has(t3))
        findings.abort.push(`the aborted version ${short(t3)} was promoted (${describeEvents(events3)})`);
      const left = (await m.stages())[t3] ?? [];
      if (aborted.ok && MARK_TAGS.aborting in (await m.tags()))
        findings.abort.push(
          `the ${MARK_TAGS.aborting} mark is still on the secret after the abort succeeded`,
        );
      if (left.length > 0)
        findings.abort.push(`the aborted version ${short(t3)} is still staged ${left.join(', ')}`);
      // Nothing may be under the pending key now that it is unstaged (or under any other unstaged key).
      await m.checkpoint(`${label} rotation 3, aborted: nothing stranded`);
      noFailures('rotation 3, aborted');
      if (left.includes('AWSPENDING')) {
        // The abort left the rotation pending (and marked): abort again, with nothing racing it now, as
        // its error says to, so that the scenario goes on (the finding stays).
        await abortRotation(m.arn, m.operatorDeps(m.clock.passing));
      }
      if (m.promotions.has(t3)) {
        promoted.push(t3);
        await afterPromotion(3);
      } else {
        swept += await m.sweep();
        sweeps++;
        await m.checkpoint(`${label}, after the aborted rotation and the sweep`);
      }
      noFailures('rotation 3');

      // Rotation 4, through the service.
      nextRotation();
      const t4 = randomUUID();
      previous = await currentId();
      since = await m.startRotation(t4);
      await assertPromoted(t4, previous, await m.settle(since, `${label} rotation 4`));
      promoted.push(t4);
      await afterPromotion(4);

      await m.fleet.stop();
      noFailures('at the end');
      for (const token of promoted)
        assert.equal(m.promotions.get(token), 1, `${label}: ${short(token)} was promoted exactly once`);
      const readBack = await m.readBack(`${label}, at the end through a fresh key ring`);
      completed = true;
      rotations += promoted.length;
      readers += m.fleet.instances.length;
      appWrites += m.fleet.writes;
      console.log(
        `multi-rotation (${label}): ${promoted.length} rotations promoted, ${m.fleet.instances.length} app instances, ` +
          `${m.fleet.writes} writes and ${m.fleet.reads} reads, ${m.stragglers} writes under AWSPREVIOUS within the bound, ` +
          `${swept} rows moved by ${sweeps} sweeps, ${m.checkpoints} checkpoints (${m.fieldsChecked} fields), ` +
          `${readBack} fields read back through a fresh key ring, ${m.steps.length} step invocations; ` +
          `resume raced setSecret (which ended ${outcome(resumeRaced)}), abort raced setSecret (which ended ` +
          `${outcome(abortRaced)}) and moved ${aborted.value?.movedBack ?? '?'} rows back`,
      );
    });

    it('refuses to start a rotation while readers within the bound may still use the key it would unstage', () => {
      assert.deepEqual(findings.refusal, []);
      assert.ok(completed, 'the scenario ran to its end');
    });

    it('never lets a key ring encrypt with a key older than the reader bound', () => {
      assert.deepEqual(m.boundViolations.slice(0, 10), []);
      assert.ok(completed, 'the scenario ran to its end');
    });

    it('stops a setSecret that an abort races, and the abort leaves no row under the pending key', () => {
      assert.deepEqual(findings.abort, []);
      assert.ok(completed, 'the scenario ran to its end');
    });

    it('lets a resume race a running setSecret with one promotion and nothing lost', () => {
      assert.deepEqual(findings.resume, []);
      assert.ok(completed, 'the scenario ran to its end');
    });
  });
}

/** The rotation events as one line (types, steps, error names and messages: no secret values). */
function describeEvents(events: readonly RotationEventRecord[]): string {
  return events
    .map(
      (e) =>
        `${e.type}${e.step ? ` in ${e.step}` : ''}${e.error ? `: ${e.error.name} ${e.error.message}` : ''}`,
    )
    .join('; ');
}

/** How a step invocation ended, by error name. */
function outcome(step: StepRecord | undefined): string {
  return step === undefined ? 'never' : step.error ? `with ${step.error.name}` : 'without an error';
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
