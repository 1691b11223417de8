import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SqlRunner, SqlValue } from '../../lambda/ports.js';
import { KeyRing } from '../../lambda/reader.js';
import { directPostgresRunner } from '../../local/direct-postgres.js';
import type { EngineSpec } from '../../local/index.js';
import { Hygiene, PLAINTEXT_MARKER } from '../support/chaos-hygiene.js';
import { assertPromotedOnce, type ChaosLocal, startChaosLocal } from '../support/chaos-local.js';
import { directMysqlRunner, engineRunner } from '../support/chaos-sql.js';
import { chaosSecret } from '../support/chaos-world.js';

const hygiene = new Hygiene('concurrent application');
const pgUrl = process.env.REKEY_TEST_PG_URL;
const mysqlUrl = process.env.REKEY_TEST_MYSQL_URL;

/** The app paces itself like a busy admin UI, not a bulk loader: a write every few milliseconds. */
const APP_PAUSE_MS = 4;
/** Writes the app keeps making after the rotation ended (with its possibly stale key ring). */
const WRITES_AFTER = 20;

const runs: {
  label: string;
  engine: EngineSpec;
  app: (c: ChaosLocal) => Promise<SqlRunner & { close?(): Promise<void> }>;
  skip: string | false;
}[] = [
  {
    label: 'embedded PostgreSQL',
    engine: 'pglite',
    app: async (c) => engineRunner(c.local.engine),
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

let appWrites = 0;
after(() => {
  hygiene.report({ appWrites, lost: 0 });
  hygiene.assertClean();
});

for (const run of runs) {
  describe(`an application writing through the reader library during a rotation, on ${run.label}`, {
    skip: run.skip,
  }, () => {
    let c: ChaosLocal;
    let app: SqlRunner & { close?(): Promise<void> };
    before(async () => {
      c = await startChaosLocal(run.engine, hygiene, { prefix: `rekey_chaos_a${process.pid}_`, rows: 20 });
      app = await run.app(c);
    });
    after(async () => {
      await app?.close?.();
      await c?.close();
    });

    it('loses none of its writes, and every row reads back as the app last wrote it', async () => {
      const first = chaosSecret(`app-${run.label}`);
      hygiene.forbidSecret(first);
      await c.world.seed(first);
      const { arn, firstId } = await c.createSecret(first);
      const rings = {
        rk1: await KeyRing.load({ client: c.sm, secretId: arn, codec: 'rk1', dataKeyField: 'encryptionKey' }),
        fernet: await KeyRing.load({
          client: c.sm,
          secretId: arn,
          codec: 'fernet-sha256',
          dataKeyField: 'appSecretKey',
        }),
      };
      const prefix = `rekey_chaos_a${process.pid}_`;
      const targets = [
        {
          table: `${prefix}sources`,
          column: 'options',
          ring: rings.rk1,
          binary: false,
          nextId: 9_000_000_000_000,
        },
        {
          table: `${prefix}redash`,
          column: 'encrypted_options',
          ring: rings.fernet,
          binary: true,
          nextId: 100_000,
        },
      ];
      const ids = new Map<string, SqlValue[]>();
      for (const t of targets) {
        const r = await app.execute(`SELECT id FROM ${t.table}`);
        ids.set(
          t.table,
          r.rows.map((row) => row[0] ?? null),
        );
      }
      let done = false;
      let writes = 0;
      let reads = 0;
      const readFailures: string[] = [];
      const pg = app.dialect === 'postgres';
      const step = async (n: number) => {
        const t = targets[n % targets.length] as (typeof targets)[number];
        const known = ids.get(t.table) as SqlValue[];
        const plaintext = `${PLAINTEXT_MARKER}app write ${n} to ${t.table}`;
        const stored = await t.ring.encrypt(plaintext, { table: t.table, column: t.column });
        const value = t.binary ? Buffer.from(stored, 'latin1') : stored;
        const cast = (p: string) => (pg && t.binary ? `CAST(${p} AS bytea)` : p);
        if (n % 3 === 0) {
          const id = t.nextId++;
          await app.execute(`INSERT INTO ${t.table} (id, ${t.column}) VALUES (:id, ${cast(':v')})`, {
            id,
            v: value,
          });
          known.push(id);
          c.world.noteWrite(t.table, t.column, id, plaintext, true);
        } else {
          const id = known[(n * 7919) % known.length] ?? null;
          await app.execute(`UPDATE ${t.table} SET ${t.column} = ${cast(':v')} WHERE id = :id`, {
            id,
            v: value,
          });
          c.world.noteWrite(t.table, t.column, id, plaintext, false);
        }
        writes++;
        if (n % 4 === 0) {
          const id = known[(n * 104729) % known.length] ?? null;
          const r = await app.execute(`SELECT ${t.column} FROM ${t.table} WHERE id = :id`, { id });
          const v = r.rows[0]?.[0];
          try {
            await t.ring.decrypt(v instanceof Uint8Array ? v : String(v), {
              table: t.table,
              column: t.column,
            });
            reads++;
          } catch (error) {
            hygiene.captureError(error);
            readFailures.push(`${t.table} row ${String(id)}: ${(error as Error).name}`);
          }
        }
        if (n % 25 === 0) await Promise.all([rings.rk1.refresh(), rings.fernet.refresh()]);
      };
      const loop = (async () => {
        let n = 0;
        while (!done) {
          await step(n++);
          await new Promise((resolve) => setTimeout(resolve, APP_PAUSE_MS));
        }
        for (let k = 0; k < WRITES_AFTER; k++) await step(n++);
      })();
      const rotation = await c.rotate(arn);
      done = true;
      await loop;

      const label = `${run.label}, app writing`;
      const current = (await c.valueAt(arn, 'AWSCURRENT')) as string;
      const previous = (await c.valueAt(arn, 'AWSPREVIOUS')) as string;
      hygiene.forbidSecret(current);
      await assertPromotedOnce(c, arn, firstId, rotation, label);
      assert.deepEqual(readFailures, [], `${label}: every read through the reader library succeeded`);
      const checked = await c.world.assertIntact([current, previous], label);
      appWrites += writes;
      console.log(
        `app loop (${run.label}): ${writes} writes and ${reads} reads during the rotation, ${checked} fields checked, attempts ${rotation.events.filter((e) => e.type === 'RotationStarted').length}`,
      );
    });
  });
}
