import { createServer } from 'node:http';
import type { LocalClock, Sleep } from './clock.js';
import { createEngine, type EngineSpec } from './engines/create.js';
import type { Engine } from './engines/types.js';
import type { FaultOptions } from './faults.js';
import { closeServer, listen } from './http.js';
import type { DataApiLimits } from './rds-data/service.js';
import { LocalDataApi } from './rds-data.js';
import { type CommandInvokerOptions, commandInvoker } from './secrets-manager/invokers.js';
import type { RotationInvoker } from './secrets-manager/types.js';
import { LocalSecretsManager } from './secrets-manager.js';

/** The cluster ARN the local Data API is addressed with (it accepts any well-formed one). */
export const LOCAL_CLUSTER_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:rekey-local';
/** The database credentials secret ARN the local Data API is addressed with (it is not looked up). */
export const LOCAL_DB_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:000000000000:secret:rekey-local-db-AbCdEf';

/** What `startLocal` starts. */
export interface StartLocalOptions {
  /** The database behind the Data API: embedded PGlite, PostgreSQL or MySQL by URL, or an open engine. @default 'pglite' */
  readonly engine?: EngineSpec | Engine;
  /** Where PGlite keeps its files (with the 'pglite' engine). @default in memory */
  readonly pgliteDataDir?: string;
  /**
   * The rotation function: in process, or a command run per step (it gets the endpoints' environment).
   * @default none: set one later with `secretsManager.setInvoker`
   */
  readonly invoker?: RotationInvoker | CommandInvokerOptions;
  /** Secrets Manager state file, for crash-and-resume across processes. @default in memory */
  readonly stateFile?: string;
  /** Restart rotations the state file shows as interrupted. @default false */
  readonly resumeInterrupted?: boolean;
  /** Per-call Data API latency. @default 0 */
  readonly latencyMs?: number;
  /** Data API fault injection. @default none */
  readonly faults?: FaultOptions;
  /** Data API size limits. @default the service's */
  readonly limits?: Partial<DataApiLimits>;
  /** Attempts per rotation. @default 3 */
  readonly rotationAttempts?: number;
  /** Pause between rotation attempts. @default 0 */
  readonly retryDelayMs?: number;
  /** Time for both endpoints. @default the system clock */
  readonly clock?: LocalClock;
  /** How latency and retry pauses are waited out. @default timers */
  readonly sleep?: Sleep;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 for both (any free port) */
  readonly ports?: { readonly secretsManager?: number; readonly dataApi?: number };
}

/** Where the Data API is told to run statements. */
export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
}

/** The running endpoints. */
export interface LocalEndpoints {
  readonly secretsManagerUrl: string;
  readonly dataApiUrl: string;
  /**
   * The environment that points the SDKs and the AWS CLI here: AWS_ENDPOINT_URL_SECRETS_MANAGER,
   * AWS_ENDPOINT_URL_RDS_DATA, AWS_REGION and dummy AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly secretsManager: LocalSecretsManager;
  readonly dataApi: LocalDataApi;
  readonly engine: Engine;
  /** ARNs and database name to pass to the Data API. */
  readonly dataApiTarget: DataApiTarget;
  /** Stops both servers and rotation steps, rolls back open transactions, closes an engine it opened. */
  close(): Promise<void>;
}

/**
 * Starts the local Secrets Manager and RDS Data API on loopback.
 * @throws the engine's connection error, an unreadable state file, or a listen error.
 */
export async function startLocal(options: StartLocalOptions = {}): Promise<LocalEndpoints> {
  const host = options.host ?? '127.0.0.1';
  const spec = options.engine ?? 'pglite';
  const owned = typeof spec === 'string' || !('begin' in spec);
  const engine = owned
    ? await createEngine(
        spec === 'pglite' && options.pgliteDataDir
          ? { pglite: { dataDir: options.pgliteDataDir } }
          : (spec as EngineSpec),
      )
    : (spec as Engine);

  const secretsManager = new LocalSecretsManager({
    ...(options.stateFile ? { stateFile: options.stateFile } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.rotationAttempts === undefined ? {} : { rotationAttempts: options.rotationAttempts }),
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
  });
  const dataApi = new LocalDataApi({
    engine,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
  });
  const smServer = createServer(secretsManager.handler);
  const dataServer = createServer(dataApi.handler);
  const close = async (): Promise<void> => {
    secretsManager.stop();
    // Roll back first: a call waiting for PGlite behind an open transaction would keep its server open.
    await dataApi.close();
    await Promise.all([smServer, dataServer].map((s) => (s.listening ? closeServer(s) : Promise.resolve())));
    if (owned) await engine.close();
  };

  let secretsManagerUrl: string;
  let dataApiUrl: string;
  try {
    secretsManagerUrl = await listen(smServer, options.ports?.secretsManager ?? 0, host);
    dataApiUrl = await listen(dataServer, options.ports?.dataApi ?? 0, host);
  } catch (error) {
    await close();
    throw error;
  }
  const env = {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManagerUrl,
    AWS_ENDPOINT_URL_RDS_DATA: dataApiUrl,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  // A command invoker needs the URLs, known only now that the servers listen.
  const invoker = options.invoker;
  if (typeof invoker === 'function') secretsManager.setInvoker(invoker);
  else if (invoker)
    secretsManager.setInvoker(commandInvoker({ ...invoker, env: { ...env, ...invoker.env } }));
  if (options.resumeInterrupted) secretsManager.resumeInterrupted();

  return {
    secretsManagerUrl,
    dataApiUrl,
    env,
    secretsManager,
    dataApi,
    engine,
    dataApiTarget: {
      resourceArn: LOCAL_CLUSTER_ARN,
      secretArn: LOCAL_DB_SECRET_ARN,
      database: databaseName(spec),
    },
    close,
  };
}

function databaseName(spec: EngineSpec | Engine): string {
  const url =
    typeof spec === 'object' && 'postgresUrl' in spec
      ? spec.postgresUrl
      : typeof spec === 'object' && 'mysqlUrl' in spec
        ? spec.mysqlUrl
        : undefined;
  if (!url) return 'postgres';
  try {
    return new URL(url).pathname.replace(/^\//, '') || 'postgres';
  } catch {
    return 'postgres';
  }
}
