import { after, before, describe, it } from 'node:test';
import type { EngineSpec, FaultSpec } from '../../local/index.js';
import { Hygiene } from '../support/chaos-hygiene.js';
import { assertPromotedOnce, type ChaosLocal, startChaosLocal } from '../support/chaos-local.js';
import { chaosSecret } from '../support/chaos-world.js';

const hygiene = new Hygiene('transient faults');
const pgUrl = process.env.REKEY_TEST_PG_URL;
const mysqlUrl = process.env.REKEY_TEST_MYSQL_URL;

/** Statement timeouts that strike after the database did the work: only the answer is lost. */
const LOST_ANSWERS: Record<number, FaultSpec> = Object.fromEntries(
  [15, 35, 55, 75, 95].map((n) => [n, { kind: 'statementTimeout', afterExecute: true }]),
);

const runs: { label: string; engine: EngineSpec; seeds: number[]; skip: string | false }[] = [
  { label: 'embedded PostgreSQL', engine: 'pglite', seeds: [1, 2, 3], skip: false },
  {
    label: 'a real PostgreSQL server',
    engine: { postgresUrl: pgUrl ?? '' },
    seeds: [4, 5],
    skip: pgUrl ? false : 'REKEY_TEST_PG_URL is not set',
  },
  {
    label: 'a real MariaDB server',
    engine: { mysqlUrl: mysqlUrl ?? '' },
    seeds: [6, 7],
    skip: mysqlUrl ? false : 'REKEY_TEST_MYSQL_URL is not set',
  },
];

let faults = 0;
after(() => {
  hygiene.report({ faults, lost: 0 });
  hygiene.assertClean();
});

for (const run of runs) {
  describe(`a rotation with 10% of Data API calls failing (all four kinds, seeded), on ${run.label}`, {
    skip: run.skip,
  }, () => {
    let c: ChaosLocal;
    before(async () => {
      c = await startChaosLocal(run.engine, hygiene, { prefix: `rekey_chaos_f${process.pid}_` });
    });
    after(() => c?.close());

    /** One rotation under seeded faults; returns the faults injected. */
    async function faultRun(seed: number): Promise<number> {
      const label = `${run.label} seed ${seed}`;
      const first = chaosSecret(`faults-${seed}`);
      hygiene.forbidSecret(first);
      await c.world.seed(first);
      const { arn, firstId } = await c.createSecret(first);
      c.local.dataApi.resetStats();
      c.local.dataApi.setFaults({ rate: 0.1, seed, onCalls: LOST_ANSWERS });
      const rotation = await c.rotate(arn);
      c.local.dataApi.setFaults(undefined);
      const { faults: injected, calls } = c.local.dataApi.stats();
      const current = (await c.valueAt(arn, 'AWSCURRENT')) as string;
      hygiene.forbidSecret(current);
      await assertPromotedOnce(c, arn, firstId, rotation, label);
      await c.world.assertIntact([current], label);
      console.log(`faults (${label}): ${injected} injected over ${calls} calls`);
      return injected;
    }

    for (const seed of run.seeds) {
      it(`completes with every field under the new key and one promotion (seed ${seed})`, async () => {
        faults += await faultRun(seed);
      });
    }
  });
}
