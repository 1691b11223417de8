import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RekeyConfig } from '../../lambda/config.js';
import { parseConfig } from '../../lambda/config.js';
import { createDeps } from '../../lambda/deps.js';
import { rotationFunction } from '../../lambda/rotation-function.js';
import {
  type EngineSpec,
  type FaultOptions,
  inProcessInvoker,
  type LocalEndpoints,
  type RotationEventRecord,
  startLocal,
} from '../../local/index.js';
import type { Hygiene } from './chaos-hygiene.js';
import { engineRunner } from './chaos-sql.js';
import { ChaosWorld } from './chaos-world.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

/** The local endpoints over an engine, the rotation function in process over real SDK clients. */
export interface ChaosLocal {
  readonly local: LocalEndpoints;
  readonly world: ChaosWorld;
  readonly config: RekeyConfig;
  /** A Secrets Manager client for the app (the reader library). */
  readonly sm: SecretsManagerClient;
  /** Creates a secret holding `value`; returns its ARN and the first version's id. */
  createSecret(value: string): Promise<{ arn: string; firstId: string }>;
  /** RotateSecret with a new token; resolves when the service's attempts are over. */
  rotate(arn: string): Promise<{ token: string; events: RotationEventRecord[] }>;
  /** The value staged `stage`, read in process. */
  valueAt(arn: string, stage: string): Promise<string | undefined>;
  stages(arn: string): Promise<Record<string, string[]>>;
  close(): Promise<void>;
}

/**
 * Starts the local endpoints over `engine` (with Data API faults if given) and the chaos tables, and
 * wires in the rotation function as the Lambda runs it, logging into the hygiene capture.
 */
export async function startChaosLocal(
  engine: EngineSpec,
  hygiene: Hygiene,
  options: {
    prefix: string;
    faults?: FaultOptions;
    rows?: number;
    maxRows?: number;
  },
): Promise<ChaosLocal> {
  const local = await startLocal({ engine, ...(options.faults ? { faults: options.faults } : {}) });
  const world = new ChaosWorld(engineRunner(local.engine), options.prefix, {
    rows: options.rows ?? 7,
    maxRows: options.maxRows ?? 3,
  });
  const config = parseConfig({
    ...world.config,
    dataApi: { ...local.dataApiTarget, engine: local.engine.dialect },
  });
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const deps = createDeps(config, {
    secretsManagerEndpoint: local.secretsManagerUrl,
    dataApiEndpoint: local.dataApiUrl,
    region: 'us-east-1',
    credentials,
    log: hygiene.log(),
  });
  local.secretsManager.setInvoker(
    inProcessInvoker(async (event, context) => {
      try {
        await rotationFunction(deps)(event, context);
      } catch (error) {
        hygiene.captureError(error);
        throw error;
      }
    }),
  );
  const sm = new SecretsManagerClient({
    region: 'us-east-1',
    credentials,
    endpoint: local.secretsManagerUrl,
  });
  await world.create();
  const call = (op: string, body: unknown) => local.secretsManager.call(op, body);
  return {
    local,
    world,
    config,
    sm,
    async createSecret(value) {
      const out = await call('CreateSecret', { Name: `chaos/${randomUUID()}`, SecretString: value });
      return { arn: out.ARN as string, firstId: out.VersionId as string };
    },
    async rotate(arn) {
      const token = randomUUID();
      const since = local.secretsManager.events().length;
      await call('RotateSecret', { SecretId: arn, ClientRequestToken: token, RotationLambdaARN: LAMBDA });
      await local.secretsManager.idle();
      return { token, events: local.secretsManager.events().slice(since) as RotationEventRecord[] };
    },
    async valueAt(arn, stage) {
      try {
        return (await call('GetSecretValue', { SecretId: arn, VersionStage: stage })).SecretString as string;
      } catch {
        return undefined;
      }
    },
    async stages(arn) {
      return ((await call('DescribeSecret', { SecretId: arn })).VersionIdsToStages ?? {}) as Record<
        string,
        string[]
      >;
    },
    async close() {
      await world.drop().catch(() => {});
      sm.destroy();
      await local.close();
    },
  };
}

/** Asserts a rotation succeeded once, with the token AWSCURRENT and the first version AWSPREVIOUS. */
export async function assertPromotedOnce(
  c: ChaosLocal,
  arn: string,
  firstId: string,
  rotation: { token: string; events: RotationEventRecord[] },
  label: string,
): Promise<void> {
  const succeeded = rotation.events.filter((e) => e.type === 'RotationSucceeded');
  assert.equal(
    succeeded.length,
    1,
    `${label}: the rotation succeeded once (${rotation.events.map((e) => `${e.type}${e.step ? ` in ${e.step}` : ''}${e.error ? `: ${e.error.name} ${e.error.message}` : ''}`).join('; ')})`,
  );
  const stages = await c.stages(arn);
  assert.deepEqual(stages[rotation.token], ['AWSCURRENT'], `${label}: the token is AWSCURRENT`);
  assert.deepEqual(stages[firstId], ['AWSPREVIOUS'], `${label}: the old version is AWSPREVIOUS`);
}
