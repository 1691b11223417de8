export type { LocalClock, Sleep } from './clock.js';
export { createEngine, type EngineSpec } from './engines/create.js';
export { MissingDriverError } from './engines/driver.js';
export { createMysqlEngine, type MysqlEngineOptions } from './engines/mysql.js';
export { createPgliteEngine, type PgliteEngine, type PgliteEngineOptions } from './engines/pglite.js';
export { createPostgresEngine, type PostgresEngineOptions } from './engines/postgres.js';
export type {
  BoundValue,
  CellValue,
  ColumnInfo,
  Database,
  Engine,
  EngineResult,
  EngineSession,
  EngineTransaction,
} from './engines/types.js';
export { SqlError } from './engines/types.js';
export {
  type DataApiOperation,
  FAULT_KINDS,
  type FaultKind,
  type FaultOptions,
  type FaultSpec,
} from './faults.js';
export type { DataApiCall, DataApiStats } from './rds-data/http.js';
export { type DataApiLimits, DEFAULT_LIMITS } from './rds-data/service.js';
export type { TransactionTimeouts } from './rds-data/transactions.js';
export { type DataApiOptions, LocalDataApi, type RunningDataApi, startDataApi } from './rds-data.js';
export {
  type CommandInvokerOptions,
  commandInvoker,
  type InvocationContext,
  inProcessInvoker,
  type LambdaHandler,
  RotationCommandError,
} from './secrets-manager/invokers.js';
export type {
  PromotionHook,
  PromotionHookReport,
  PromotionHookRetry,
  SecretVersionPromoted,
} from './secrets-manager/promotion-hooks.js';
export {
  ROTATION_STEPS,
  type RotationEventRecord,
  type RotationEventType,
  type RotationInvocation,
  type RotationInvoker,
} from './secrets-manager/types.js';
export {
  LocalSecretsManager,
  type RunningSecretsManager,
  type SecretsManagerOptions,
  startSecretsManager,
} from './secrets-manager.js';
export {
  type DataApiTarget,
  LOCAL_CLUSTER_ARN,
  LOCAL_DB_SECRET_ARN,
  type LocalEndpoints,
  type StartLocalOptions,
  startLocal,
} from './server.js';
export type { AppField, SingleKeyAppConfig } from './single-key-app/config.js';
export { ReadLoop, type ReadTarget, type ReadWindow } from './single-key-app/read-loop.js';
export type { ReadOutcome } from './single-key-app/reader.js';
export {
  type AppInstance,
  type KeySource,
  type ServedRead,
  SingleKeyService,
  type SingleKeyServiceOptions,
} from './single-key-app/service.js';
