import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { codecFor } from '../../lambda/codecs/index.js';
import { parseConfig, type RekeyConfig, type RekeyConfigInput } from '../../lambda/config.js';
import { dataApiRunner } from '../../lambda/data-api.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { asText } from '../../lambda/sql.js';
import { createPgliteEngine, type LocalEndpoints, type PgliteEngine, startLocal } from '../../local/index.js';
import {
  keyOf,
  PLAINTEXTS,
  REDASH_SECRET_A,
  REDASH_SECRET_B,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
  redashConfig,
  rk1Config,
  seedRedash,
  seedRk1,
} from '../support/fixtures.js';

/** Rows per table in the seeded databases (rk1: three tables, four columns, a NULL every fifth row). */
export const ROWS = 10;

/** A rotation function ARN for RotateSecret; the local endpoint calls the invoker the test sets. */
export const ROTATION_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

/** Every value a test asserts never reaches the CLI's output: keys, secret values, plaintexts. */
export const SECRETS_NOT_TO_PRINT: readonly string[] = [
  ...[RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C, REDASH_SECRET_A, REDASH_SECRET_B].flatMap((s) => [
    s,
    ...Object.values(JSON.parse(s) as Record<string, string>),
  ]),
  ...PLAINTEXTS,
];

/**
 * An app on the local endpoints (started on port 0): its secret, its database behind the Data API, and
 * its config as a file. The process environment points the SDK at the endpoints until `close()`.
 */
export interface World {
  readonly local: LocalEndpoints;
  readonly config: RekeyConfig;
  readonly configPath: string;
  readonly secretId: string;
  /** `--secret-id ARN --config FILE`. */
  readonly args: readonly string[];
  /** SQL through the local Data API. */
  readonly db: SqlRunner;
  /** Calls a Secrets Manager operation in-process, wire shapes in and out. */
  call(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** PutSecretValue with these stages; returns the version id. */
  put(secretString: string, stages: readonly string[]): Promise<string>;
  /**
   * Leaves a rotation stuck as a failed one does: the pending version holds `pending` (or, without it,
   * no value: createSecret failed), and the steps after it failed. Returns the pending version id.
   */
  stuckRotation(pending: string | undefined): Promise<string>;
  /**
   * Turns rotation on as `cdk deploy` does without rotating: RotateSecret with RotateImmediately=false,
   * whose configuration test (testSecret on a temporary version) passes. Needs an AWSCURRENT value.
   */
  enableRotation(): Promise<void>;
  /** Every version's stages. */
  stages(): Promise<Record<string, string[]>>;
  stagesOf(versionId: string): Promise<string[]>;
  /** The value staged `stage`, or undefined. */
  valueAt(stage: string): Promise<string | undefined>;
  /** Stored values by the first of `secrets` whose key wrote them, else 'plaintext', 'unknown' or 'NULL'. */
  countBy(secrets: Readonly<Record<string, string>>): Promise<Record<string, number>>;
  /** Every stored value, as text, in a stable order (for "nothing changed" checks). */
  snapshot(): Promise<string[]>;
  /** Re-encrypts up to `limit` rows per column from `from`'s key to `to`'s (a rotation step at work). */
  move(from: string, to: string, limit?: number): Promise<number>;
  close(): Promise<void>;
}

/** The rk1 app: `rows` rows per table under RK1_SECRET_A, and a secret with no value yet. */
export function rk1World(rows = ROWS): Promise<World> {
  return world(
    (o) => rk1Config(o),
    (db, c) => seedRk1(db, c, RK1_SECRET_A, rows),
  );
}

/** Redash: Fernet tokens in BYTEA under REDASH_SECRET_A, `rows` per table, and a secret with no value yet. */
export function redashWorld(rows = ROWS): Promise<World> {
  return world(
    (o) => parseConfig({ ...redashConfig(), ...o }),
    (db, c) => seedRedash(db, c, REDASH_SECRET_A, rows),
  );
}

let shared: Promise<PgliteEngine> | undefined;

/**
 * One embedded PostgreSQL per test process, emptied for each world: starting PGlite takes seconds,
 * and most of these tests' time went to it. startLocal leaves an engine it was given open.
 */
async function freshEngine(): Promise<PgliteEngine> {
  shared ??= createPgliteEngine();
  const engine = await shared;
  await engine.db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  return engine;
}

async function world(
  makeConfig: (overrides: Partial<RekeyConfigInput>) => RekeyConfig,
  seed: (db: SqlRunner, config: RekeyConfig) => Promise<void>,
): Promise<World> {
  const local = await startLocal({ rotationAttempts: 1, engine: await freshEngine() });
  const savedEnv = Object.fromEntries(Object.keys(local.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, local.env);
  const sm = local.secretsManager;
  const call = (operation: string, body: Record<string, unknown>) => sm.call(operation, body);
  const created = await call('CreateSecret', { Name: 'app' });
  const secretId = created.ARN as string;
  const config = makeConfig({ secretId, dataApi: { ...local.dataApiTarget, engine: 'postgres' } });
  const db = dataApiRunner(
    new RDSDataClient({ endpoint: local.dataApiUrl, region: 'us-east-1' }),
    config.dataApi,
  );
  await seed(db, config);
  const dir = await mkdtemp(join(tmpdir(), 'rekey-cli-'));
  const configPath = join(dir, 'rekey.json');
  await writeFile(configPath, JSON.stringify(config));
  const codec = codecFor(config.codec);
  const columns = config.storedFields.flatMap((t) => t.columns.map((c) => ({ t, c })));
  const values = async (t: (typeof columns)[number]['t'], c: string) =>
    (await db.execute(`SELECT ${t.id}::text, ${c} FROM ${t.table} ORDER BY 1`)).rows.map(([id, v]) => ({
      id: String(id),
      value: v === null || v === undefined ? null : asText(v as string | Uint8Array),
      binary: v instanceof Uint8Array,
    }));
  const stages = async () =>
    ((await call('DescribeSecret', { SecretId: secretId })).VersionIdsToStages ?? {}) as Record<
      string,
      string[]
    >;
  const w: World = {
    local,
    config,
    configPath,
    secretId,
    args: ['--secret-id', secretId, '--config', configPath],
    db,
    call,
    async put(secretString, versionStages) {
      const out = await call('PutSecretValue', {
        SecretId: secretId,
        SecretString: secretString,
        VersionStages: versionStages,
      });
      return out.VersionId as string;
    },
    async stuckRotation(pending) {
      sm.setInvoker(async (event) => {
        if (event.Step !== 'createSecret' || pending === undefined) throw new Error(`${event.Step} failed`);
        await call('PutSecretValue', {
          SecretId: secretId,
          ClientRequestToken: event.ClientRequestToken,
          SecretString: pending,
          VersionStages: ['AWSPENDING'],
        });
      });
      const out = await call('RotateSecret', { SecretId: secretId, RotationLambdaARN: ROTATION_LAMBDA_ARN });
      await sm.idle();
      sm.setInvoker(undefined);
      return out.VersionId as string;
    },
    async enableRotation() {
      sm.setInvoker(async () => {});
      await call('RotateSecret', {
        SecretId: secretId,
        RotationLambdaARN: ROTATION_LAMBDA_ARN,
        RotateImmediately: false,
      });
      await sm.idle();
      sm.setInvoker(undefined);
    },
    stages,
    async stagesOf(versionId) {
      return (await stages())[versionId] ?? [];
    },
    async valueAt(stage) {
      try {
        return (await call('GetSecretValue', { SecretId: secretId, VersionStage: stage }))
          .SecretString as string;
      } catch {
        return undefined;
      }
    },
    async countBy(secrets) {
      const named = Object.entries(secrets).map(([name, s]) => ({ name, key: keyOf(s, config) }));
      const counts: Record<string, number> = {};
      for (const { t, c } of columns) {
        for (const { value } of await values(t, c)) {
          let name = 'NULL';
          if (value !== null) {
            const found = codec.classify(
              value,
              named.map((n) => n.key),
              { table: t.table, column: c },
            );
            name =
              found.kind === 'key'
                ? (named.find((n) => n.key.kid === found.key.kid)?.name as string)
                : found.kind;
          }
          counts[name] = (counts[name] ?? 0) + 1;
        }
      }
      return counts;
    },
    async snapshot() {
      const all: string[] = [];
      for (const { t, c } of columns) {
        for (const { id, value } of await values(t, c)) all.push(`${t.table}.${c}.${id}=${value}`);
      }
      return all;
    },
    async move(from, to, limit = Number.MAX_SAFE_INTEGER) {
      const source = keyOf(from, config);
      const target = keyOf(to, config);
      let moved = 0;
      for (const { t, c } of columns) {
        let here = 0;
        for (const { id, value, binary } of await values(t, c)) {
          if (value === null || here >= limit) continue;
          const where = { table: t.table, column: c };
          if (codec.classify(value, [source], where).kind !== 'key') continue;
          const next = codec.encrypt(codec.decrypt(value, source, where), target, where);
          await db.execute(`UPDATE ${t.table} SET ${c} = :n WHERE ${t.id}::text = :id`, {
            n: binary ? Buffer.from(next, 'latin1') : next,
            id,
          });
          here++;
          moved++;
        }
      }
      return moved;
    },
    async close() {
      await local.close();
      for (const [k, v] of Object.entries(savedEnv)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    },
  };
  return w;
}

/** The rk1 key prefix ('rk1:xxxxxxxx:') of a secret value under a config. */
export function prefixOf(secret: string, config: RekeyConfig): string {
  return codecFor(config.codec).sqlPrefix(keyOf(secret, config)) as string;
}

/** Fails when any secret value, key or plaintext appears in `text`. */
export function assertNoSecrets(text: string): void {
  for (const s of SECRETS_NOT_TO_PRINT) {
    if (text.includes(s))
      throw new Error(`output contains a secret value or plaintext (${s.length} characters)`);
  }
}
