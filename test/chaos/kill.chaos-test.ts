import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../lambda/config.js';
import type { EngineSpec } from '../../local/index.js';
import { Hygiene } from '../support/chaos-hygiene.js';
import { bundleStepProcess, KillHarness } from '../support/chaos-process.js';
import { engineRunner } from '../support/chaos-sql.js';
import { ChaosWorld, chaosSecret } from '../support/chaos-world.js';

/** Kill points per engine, spread evenly over the requests of one whole rotation. */
const KILLS_PER_ENGINE = 8;
const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

const hygiene = new Hygiene('process kills');
const pgUrl = process.env.REKEY_TEST_PG_URL;
const engines: { label: string; spec: EngineSpec; skip: string | false }[] = [
  { label: 'embedded PostgreSQL', spec: 'pglite', skip: false },
  {
    label: 'a real PostgreSQL server',
    spec: { postgresUrl: pgUrl ?? '' },
    skip: pgUrl ? false : 'REKEY_TEST_PG_URL is not set',
  },
];

let dir: string;
let bundle: string;
let kills = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-chaos-'));
  bundle = await bundleStepProcess(dir);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  hygiene.report({ processKills: kills, lost: 0 });
  hygiene.assertClean();
});

for (const engine of engines) {
  describe(`the Lambda handler process SIGKILLed mid-rotation, on ${engine.label}`, {
    skip: engine.skip,
  }, () => {
    let h: KillHarness;
    let world: ChaosWorld;
    const first = chaosSecret(`kill-${engine.label}`);
    hygiene.forbidSecret(first);

    before(async () => {
      h = await KillHarness.start(engine.spec, bundle, hygiene);
      world = new ChaosWorld(engineRunner(h.engine), `rekey_chaos_k${process.pid}_`, {
        rows: 5,
        maxRows: 2,
        only: ['sources', 'tokens', 'fernet', 'redash'],
      });
      h.config = parseConfig({ ...world.config, dataApi: h.dataApiTarget });
      await world.create();
    });
    after(async () => {
      await world?.drop();
      await h?.close();
    });

    /** One rotation through RotateSecret, killed at request `killAt` (0: never); returns its requests. */
    async function rotation(killAt: number): Promise<number> {
      await world.seed(first);
      const name = `chaos/kill-${randomUUID()}`;
      const { ARN } = await h.secretsManager.call('CreateSecret', { Name: name, SecretString: first });
      const secretId = ARN as string;
      const token = randomUUID();
      const firstId = Object.keys(await h.stages(secretId))[0] as string;
      h.requests = 0;
      h.promotions = 0;
      h.killAt = killAt;
      h.watch(secretId, token);
      const killsBefore = h.kills;
      const label = `${engine.label}, killed at request ${killAt}`;
      let checked = 0;
      h.onKilled = async () => {
        const staged = await Promise.all(
          ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'].map((s) => h.valueAt(secretId, s)),
        );
        for (const v of staged) if (v) hygiene.forbidSecret(v);
        await world.assertIntact(
          staged.filter((v): v is string => v !== undefined),
          `${label}, at the kill`,
        );
        checked++;
      };
      await h.secretsManager.call('RotateSecret', {
        SecretId: secretId,
        ClientRequestToken: token,
        RotationLambdaARN: LAMBDA,
      });
      await h.secretsManager.idle();
      assert.deepEqual(h.checkFailures, [], `${label}: fields readable at the kill`);
      const requests = h.requests;
      const current = (await h.valueAt(secretId, 'AWSCURRENT')) as string;
      hygiene.forbidSecret(current);
      const stages = await h.stages(secretId);
      assert.deepEqual(stages[token], ['AWSCURRENT'], `${label}: the token is AWSCURRENT`);
      assert.deepEqual(stages[firstId], ['AWSPREVIOUS'], `${label}: the old version is AWSPREVIOUS`);
      assert.equal(h.promotions, 1, `${label}: promoted exactly once`);
      await world.assertIntact([current], `${label}, after resuming`);
      if (killAt > 0) {
        assert.equal(h.kills, killsBefore + 1, `${label}: the step process was killed`);
        assert.equal(checked, 1, `${label}: checked at the kill`);
      }
      return requests;
    }

    it('keeps every field readable at each kill, and the service retry finishes with one promotion', async () => {
      const started = Date.now();
      const total = await rotation(0);
      for (let k = 1; k <= KILLS_PER_ENGINE; k++) {
        await rotation(Math.max(1, Math.round((k * total) / (KILLS_PER_ENGINE + 1))));
        kills++;
      }
      console.log(
        `process kills (${engine.label}): ${KILLS_PER_ENGINE} kills over ${total} requests, ${Date.now() - started} ms`,
      );
    });
  });
}
