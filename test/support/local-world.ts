import assert from 'node:assert/strict';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { codecFor, dataKeyFromSecretString } from '../../lambda/codecs/index.js';
import { parseConfig, type RekeyConfig, type RekeyConfigInput, tableCodec } from '../../lambda/config.js';
import { dataApiRunner } from '../../lambda/data-api.js';
import { createDeps } from '../../lambda/deps.js';
import { memoryLog } from '../../lambda/log.js';
import type { SqlRunner } from '../../lambda/ports.js';
import { rotationFunction } from '../../lambda/rotation-function.js';
import { type EngineSpec, inProcessInvoker, type LocalEndpoints, startLocal } from '../../local/index.js';
import { fakeClock } from './fake-clock.js';
import { PLAINTEXTS } from './fixtures.js';

/** The rotation Lambda's ARN as the local Secrets Manager is told it (it invokes in process). */
export const LOCAL_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

/** Local endpoints with the rekey rotation function wired in, and real SDK clients pointed at them. */
export interface LocalWorld {
  readonly local: LocalEndpoints;
  readonly config: RekeyConfig;
  readonly sm: SecretsManagerClient;
  /** SQL through the local Data API, with the real RDSDataClient. */
  readonly db: SqlRunner;
  readonly log: ReturnType<typeof memoryLog>;
  /** The rotation function the local Secrets Manager invokes (wrap it to inject failures). */
  readonly rotation: ReturnType<typeof rotationFunction>;
  /** The time of the endpoints and of the rotation function: move it instead of sleeping. */
  readonly clock: ReturnType<typeof fakeClock>;
  /** Creates the secret with a first value; returns its ARN. */
  createSecret(value: string): Promise<string>;
  /** RotateSecret, then waits until the rotation's steps have run. */
  rotate(secretId: string, options?: { rotateImmediately?: boolean }): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts the local endpoints on port 0 and the rotation function over real SDK clients (HTTP), as the
 * Lambda runs it. `configFor` gets the local Data API target to put in the config.
 */
export async function startLocalWorld(
  configFor: (dataApi: RekeyConfigInput['dataApi']) => Omit<RekeyConfigInput, 'dataApi'>,
  options: { engine?: EngineSpec; engineName?: 'postgres' | 'mysql' } = {},
): Promise<LocalWorld> {
  const clock = fakeClock(Date.now());
  const local = await startLocal({ engine: options.engine ?? 'pglite', clock });
  const dataApi = { ...local.dataApiTarget, engine: options.engineName ?? 'postgres' } as const;
  const config = parseConfig({ ...configFor(dataApi), dataApi });
  const clientOptions = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const sm = new SecretsManagerClient({ ...clientOptions, endpoint: local.secretsManagerUrl });
  const rds = new RDSDataClient({ ...clientOptions, endpoint: local.dataApiUrl });
  const log = memoryLog();
  const deps = createDeps(config, {
    secretsManagerEndpoint: local.secretsManagerUrl,
    dataApiEndpoint: local.dataApiUrl,
    region: 'us-east-1',
    credentials: clientOptions.credentials,
    log,
  });
  const rotation = rotationFunction({ ...deps, clock });
  local.secretsManager.setInvoker(inProcessInvoker(rotation));
  return {
    local,
    rotation,
    clock,
    config,
    sm,
    db: dataApiRunner(rds, dataApi),
    log,
    async createSecret(value) {
      const out = await sm.send(new CreateSecretCommand({ Name: `app-${Date.now()}`, SecretString: value }));
      return out.ARN as string;
    },
    async rotate(secretId, rotateOptions = {}) {
      const out = await sm.send(
        new RotateSecretCommand({
          SecretId: secretId,
          RotationLambdaARN: LOCAL_LAMBDA_ARN,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: rotateOptions.rotateImmediately ?? true,
        }),
      );
      await local.secretsManager.idle();
      return out.VersionId as string;
    },
    async close() {
      sm.destroy();
      rds.destroy();
      await local.close();
    },
  };
}

/** Decrypts every stored value with the keys of `secret`; fails on any that does not open. */
export async function readEveryField(w: LocalWorld, secret: string): Promise<number> {
  let n = 0;
  for (const t of w.config.storedFields) {
    const { codec, dataKeyField } = tableCodec(w.config, t);
    const key = dataKeyFromSecretString(secret, dataKeyField, codec);
    for (const c of t.columns) {
      const r = await w.db.execute(`SELECT ${c} FROM ${t.table} WHERE ${c} IS NOT NULL`);
      for (const [v] of r.rows) {
        const text = v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v);
        assert.ok(
          PLAINTEXTS.includes(
            Buffer.from(codecFor(codec).decrypt(text, key, { table: t.table, column: c })).toString(),
          ),
        );
        n++;
      }
    }
  }
  return n;
}
