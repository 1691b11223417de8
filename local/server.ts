import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import type { LocalClock, Sleep } from './clock.js';
import { createEngine, type EngineSpec } from './engines/create.js';
import type { Database } from './engines/types.js';
import type { FaultOptions } from './faults.js';
import { closeServer, listen } from './http.js';
import type { DataApiLimits } from './rds-data/service.js';
import { LOCAL_CLUSTER_ARN, LOCAL_DB_SECRET_ARN } from './rds-data/target.js';
import { LocalDataApi } from './rds-data.js';
import { type CommandInvokerOptions, commandInvoker } from './secrets-manager/invokers.js';
import type { PromotionHook, PromotionHookRetry } from './secrets-manager/promotion-hooks.js';
import type { RotationInvoker } from './secrets-manager/types.js';
import { LocalSecretsManager } from './secrets-manager.js';

export { LOCAL_CLUSTER_ARN, LOCAL_DB_SECRET_ARN };

/** The region the local endpoints' ARNs and printed environment name. */
const LOCAL_REGION = 'us-east-1';

/** What `startLocal` starts. */
export interface StartLocalOptions {
  /** The database behind the Data API: embedded PGlite, PostgreSQL or MySQL by URL, or an open engine. @default 'pglite' */
  readonly engine?: EngineSpec | Database;
  /**
   * Where PGlite keeps its files (with the 'pglite' engine), created if missing: beside `stateFile`, a
   * restart keeps both the secrets and the database. @default in memory
   */
  readonly pgliteDataDir?: string;
  /**
   * The rotation function: in process, or a command run per step (it gets the endpoints' environment).
   * @default none: set one later with `secretsManager.setInvoker`
   */
  readonly invoker?: RotationInvoker | CommandInvokerOptions;
  /** Secrets Manager state file, for crash-and-resume across processes. @default in memory */
  readonly stateFile?: string;
  /**
   * Restart rotations the state file shows as interrupted: at once with `invoker`, otherwise when
   * `secretsManager.setInvoker` gives a rotation function (until then they wait, still running).
   * @default false
   */
  readonly resumeInterrupted?: boolean;
  /**
   * The cluster ARNs the Data API answers for; a request naming any other is refused as the service
   * refuses it (BadRequestException, "HttpEndpoint is not enabled for cluster ..."). @default [LOCAL_CLUSTER_ARN]
   */
  readonly clusterArns?: readonly string[];
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
  /**
   * Run after each promotion (a new version made AWSCURRENT by UpdateSecretVersionStage, from
   * finishSecret or anyone else, or by PutSecretValue), outside the request, as the deployed
   * EventBridge rule runs its targets; more with `secretsManager.onPromotion`. @default none
   */
  readonly promotionHooks?: readonly PromotionHook[];
  /** Retries of a failed promotion hook. @default 3 attempts, 1 s then 2 s apart */
  readonly promotionHookRetry?: PromotionHookRetry;
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
   * AWS_ENDPOINT_URL_RDS_DATA, AWS_REGION and AWS_DEFAULT_REGION (which older tools read), and dummy
   * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly secretsManager: LocalSecretsManager;
  readonly dataApi: LocalDataApi;
  readonly engine: Database;
  /** ARNs and database name to pass to the Data API (the first of `clusterArns`, if given). */
  readonly dataApiTarget: DataApiTarget;
  /** Stops both servers and rotation steps, rolls back open transactions, closes an engine it opened. */
  close(): Promise<void>;
}

/**
 * Starts the local Secrets Manager and RDS Data API on loopback.
 * @throws the engine's connection error, an unreadable state file, or a listen error; RangeError for
 * `pgliteDataDir` with another engine, a malformed `clusterArns` entry or a negative latency.
 */
export async function startLocal(options: StartLocalOptions = {}): Promise<LocalEndpoints> {
  const host = options.host ?? '127.0.0.1';
  const spec = withDataDir(options.engine ?? 'pglite', options.pgliteDataDir);
  // Before the engine, so an unreadable state file leaves no database open.
  const secretsManager = new LocalSecretsManager({
    ...(options.stateFile ? { stateFile: options.stateFile } : {}),
    // Resumed once the rotation function is set below, or by the caller's setInvoker.
    ...(options.resumeInterrupted ? { resumeInterrupted: true } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.rotationAttempts === undefined ? {} : { rotationAttempts: options.rotationAttempts }),
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
    ...(options.promotionHooks ? { promotionHooks: options.promotionHooks } : {}),
    ...(options.promotionHookRetry ? { promotionHookRetry: options.promotionHookRetry } : {}),
  });
  const owned = typeof spec === 'string' || !('begin' in spec);
  const engine = owned ? await createEngine(spec as EngineSpec) : (spec as Database);
  let dataApi: LocalDataApi;
  try {
    dataApi = new LocalDataApi({
      engine,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
      ...(options.faults ? { faults: options.faults } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.clusterArns ? { clusterArns: options.clusterArns } : {}),
    });
  } catch (error) {
    if (owned) await engine.close();
    throw error;
  }
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
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  };
  // A command invoker needs the URLs, known only now that the servers listen.
  const invoker = options.invoker;
  if (typeof invoker === 'function') secretsManager.setInvoker(invoker);
  else if (invoker)
    secretsManager.setInvoker(commandInvoker({ ...invoker, env: { ...env, ...invoker.env } }));

  return {
    secretsManagerUrl,
    dataApiUrl,
    env,
    secretsManager,
    dataApi,
    engine,
    dataApiTarget: {
      resourceArn: options.clusterArns?.[0] ?? LOCAL_CLUSTER_ARN,
      secretArn: LOCAL_DB_SECRET_ARN,
      database: databaseName(spec),
    },
    close,
  };
}

/** The engine spec with PGlite's data directory, made absolute and created. */
function withDataDir(spec: EngineSpec | Database, dataDir: string | undefined): EngineSpec | Database {
  if (dataDir === undefined) return spec;
  if (spec !== 'pglite' && !(typeof spec === 'object' && 'pglite' in spec)) {
    throw new RangeError("pgliteDataDir needs the embedded 'pglite' engine, not a server or an open engine");
  }
  const dir = resolve(dataDir);
  // PGlite creates only the last directory of the path.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { pglite: { ...(spec === 'pglite' ? {} : spec.pglite), dataDir: dir } };
}

function databaseName(spec: EngineSpec | Database): string {
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
