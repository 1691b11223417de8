/**
 * The core's one front door: the CLI, the demo, the benchmark, the local endpoints and the constructs
 * reach the rotation through this module only (test/lint/front-door.test.ts keeps it so), as an app
 * reaches a package. The reader library for apps has its own, smaller door: ./reader.ts.
 */
export { type AbortReport, abortRotation } from './abort.js';
export { type CodecName, codecFor, dataKeyFromSecretString } from './codecs/index.js';
export { rk1 } from './codecs/rk1.js';
export type { DataKey, FieldContext } from './codecs/types.js';
export {
  IDENTIFIER_PATTERN,
  parseConfig,
  type RekeyConfig,
  type RekeyConfigInput,
  readConfig,
  tableCodec,
} from './config.js';
export { createDataApiClient, type DataApiTarget, dataApiRunner } from './data-api.js';
export { type BaseDeps, createDeps } from './deps.js';
export { type Engine, quoteIdentifier } from './dialects.js';
export {
  AbortRaceError,
  ConfigError,
  DecryptError,
  EventError,
  FleetLagError,
  type LaggingReader,
  NotFinishedError,
  RekeyError,
  RotationStateError,
  SecretFormatError,
  StatementTooSlowError,
} from './errors.js';
export { type FleetSnapshot, type ReaderBeat, readFleet, waitForFleet } from './fleet-gate.js';
export {
  DEFAULT_HEARTBEAT_TABLE,
  type HeartbeatStatement,
  heartbeatStatement,
  heartbeatTableSchema,
} from './heartbeat.js';
export { KeyRing } from './keyring.js';
export { memoryLog, silentLog } from './log.js';
export {
  type CensusTotal,
  type ColumnCensus,
  keyIdsOf,
  type StagedValue,
  takeCensus,
  totalOf,
} from './passes/census.js';
export {
  checkUnlistedCiphertext,
  type DatabaseCensus,
  describeFound,
  type FoundCiphertext,
  takeDatabaseCensus,
  UnlistedCiphertextError,
} from './passes/db-census.js';
export { statementKind } from './passes/pacing.js';
export { DATA_API_ROW_LIMIT } from './passes/reencrypt.js';
export { verifyAll } from './passes/verify.js';
export {
  DEFAULT_LATENCY_MS,
  type FieldImpact,
  type PlanWarning,
  planRotation,
  type RotationPlan,
  type RotationRules,
  type StepPlan,
} from './plan.js';
export {
  type Clock,
  type Log,
  type ProgressEvent,
  type ProgressSink,
  type SecretDescription,
  type SecretsStore,
  type SqlResult,
  type SqlRunner,
  type SqlValue,
  systemClock,
} from './ports.js';
export { ROTATION_STEPS } from './rotation-event.js';
export { rotationFunction } from './rotation-function.js';
export { checkSecretValue, generateSecretValue } from './secret-template.js';
export { secretsManagerStore } from './secrets.js';
export { asText, SCAN_CHUNK_ROWS, TableSql, type TableSqlOptions } from './sql.js';
export { loadStagedValues, stagedVersions } from './staged-versions.js';
export { runStep, type StepDeps } from './steps.js';
