import { RDSDataClient } from '@aws-sdk/client-rds-data';
import {
  CreateSecretCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  createDeps,
  dataApiRunner,
  generateSecretValue,
  memoryLog,
  parseConfig,
  type RekeyConfig,
  rotationFunction,
  type SqlRunner,
} from '../../lambda/index.js';
import { type EngineSpec, inProcessInvoker, type LocalEndpoints } from '../../local/index.js';
import { progressReporter } from '../cli/progress.js';
import { DEMO_STORED_FIELDS, DEMO_TEMPLATE, seedDemo } from './schema.js';

/**
 * What the demos share: the demo secret and schema on the local endpoints, and the rotation function
 * wired into the local Secrets Manager with progress on the terminal.
 */

/** The rotation function's ARN as RotateSecret is given it (the local Secrets Manager runs it in process). */
export const DEMO_LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

/** Dummy credentials and the region: the local endpoints accept any signature. */
export const LOCAL_CLIENT_OPTIONS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** The engine of `--engine URL`: the embedded PostgreSQL without one. */
export function engineSpec(url: string | undefined): EngineSpec {
  if (!url) return 'pglite';
  if (/^postgres(ql)?:\/\//.test(url)) return { postgresUrl: url };
  if (/^mysql:\/\//.test(url)) return { mysqlUrl: url };
  throw new Error(
    `--engine must be a postgres:// or mysql:// URL, got '${url.replace(/:[^:@/]*@/, ':***@')}'`,
  );
}

/** The demo's secret, seeded tables and clients. */
export interface DemoSecret {
  readonly config: RekeyConfig;
  readonly sm: SecretsManagerClient;
  readonly db: SqlRunner;
  readonly secretId: string;
  readonly firstValue: string;
  readonly firstVersionId: string;
}

/**
 * Seeds Redash's two Fernet tables and `rows` rk1 rows through the Data API, all under a first value of
 * the demo secret, and creates the secret with it.
 */
export async function createDemoSecret(
  local: LocalEndpoints,
  rows: number,
  say: (line?: string) => void,
): Promise<DemoSecret> {
  const dialect = local.engine.dialect;
  const config = parseConfig({
    secretTemplate: DEMO_TEMPLATE,
    dataKeyField: 'encryptionKey',
    codec: 'rk1',
    storedFields: DEMO_STORED_FIELDS,
    dataApi: { ...local.dataApiTarget, engine: dialect },
  });
  const sm = new SecretsManagerClient({ ...LOCAL_CLIENT_OPTIONS, endpoint: local.secretsManagerUrl });
  const db = dataApiRunner(
    new RDSDataClient({ ...LOCAL_CLIENT_OPTIONS, endpoint: local.dataApiUrl }),
    config.dataApi,
  );
  const firstValue = generateSecretValue(config.secretTemplate);
  say(
    `seeding data_sources and notification_destinations (Fernet in ${dialect === 'mysql' ? 'LONGBLOB' : 'BYTEA'}, as Redash stores them) and ${rows} rk1 rows, through the Data API`,
  );
  await seedDemo(db, config, firstValue, rows);
  const created = await sm.send(
    new CreateSecretCommand({ Name: 'rekey-demo/app', SecretString: firstValue }),
  );
  return {
    config,
    sm,
    db,
    secretId: created.ARN as string,
    firstValue,
    firstVersionId: created.VersionId as string,
  };
}

/**
 * Makes rekey's rotation function the local Secrets Manager's, as Lambda would run it, with each step's
 * progress on `out` and a line when it ends; returns its log.
 */
export function installDemoRotation(
  local: LocalEndpoints,
  config: RekeyConfig,
  out: NodeJS.WriteStream,
  say: (line?: string) => void,
): ReturnType<typeof memoryLog> {
  const log = memoryLog();
  const progress = progressReporter(out);
  const deps = createDeps(config, {
    ...LOCAL_CLIENT_OPTIONS,
    secretsManagerEndpoint: local.secretsManagerUrl,
    dataApiEndpoint: local.dataApiUrl,
    log,
  });
  let sink = progress.phase('setSecret');
  const rotation = rotationFunction({ ...deps, progress: (p) => sink(p) });
  local.secretsManager.setInvoker(
    inProcessInvoker(async (event, context) => {
      const stepStarted = Date.now();
      sink = progress.phase(event.Step);
      try {
        await rotation(event, context);
      } finally {
        progress.end();
      }
      say(`  ${event.Step.padEnd(12)} done in ${Date.now() - stepStarted} ms`);
    }),
  );
  return log;
}

/** RotateSecret: rotation on, every 30 days, now; returns the new version's id (steps run in the background). */
export async function rotateDemoSecret(sm: SecretsManagerClient, secretId: string): Promise<string> {
  const rotate = await sm.send(
    new RotateSecretCommand({
      SecretId: secretId,
      RotationLambdaARN: DEMO_LAMBDA_ARN,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: true,
    }),
  );
  return rotate.VersionId as string;
}
