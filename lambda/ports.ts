/**
 * The small interfaces the rotation steps run over. The Lambda, the CLI, the local endpoints and the
 * tests each pass their own implementations.
 */

import type { Engine } from './dialects.js';

/** A version of the secret as the store describes it: id and staging labels. */
export interface SecretVersionInfo {
  readonly versionId: string;
  readonly stages: readonly string[];
}

/** What DescribeSecret tells rekey about a secret. */
export interface SecretDescription {
  readonly arn: string;
  readonly name: string;
  /** `undefined` when the service leaves the field out (tolerated, as the AWS templates do). */
  readonly rotationEnabled: boolean | undefined;
  readonly versions: readonly SecretVersionInfo[];
  /** The secret's tags (rekey keeps its rotation marks there: lambda/rotation-marks.ts). */
  readonly tags: Readonly<Record<string, string>>;
}

/** A version as ListSecretVersionIds lists it. */
export interface SecretVersionListing extends SecretVersionInfo {
  /** Epoch ms, when the store says. */
  readonly createdDate?: number;
}

/** A secret version with its value. `secretString` is secret: never log it. */
export interface SecretValue {
  readonly versionId: string;
  readonly stages: readonly string[];
  readonly secretString: string;
}

/** Access to Secrets Manager, reduced to what rotation needs. */
export interface SecretsStore {
  describe(secretId: string): Promise<SecretDescription>;
  /** The value at a version and/or stage, or `undefined` when no such value exists (ResourceNotFound). */
  getValue(secretId: string, at: { versionId?: string; stage?: string }): Promise<SecretValue | undefined>;
  /** Writes the pending value; idempotent for the same token and value. */
  putPending(secretId: string, token: string, secretString: string, rotationToken?: string): Promise<void>;
  /** UpdateSecretVersionStage. */
  moveStage(
    secretId: string,
    stage: string,
    move: { toVersionId?: string; fromVersionId?: string },
  ): Promise<void>;
  /** ListSecretVersionIds: the versions that hold a staging label (all pages). */
  listVersions(secretId: string): Promise<SecretVersionListing[]>;
  /** TagResource: sets (adds or replaces) tags. */
  tag(secretId: string, tags: Readonly<Record<string, string>>): Promise<void>;
  /** UntagResource. */
  untag(secretId: string, keys: readonly string[]): Promise<void>;
}

/** A value passed to or read from SQL. Binary columns come back as `Uint8Array`. */
export type SqlValue = string | number | boolean | Uint8Array | null;

/** The result of one SQL statement: rows as arrays in select-list order. */
export interface SqlResult {
  readonly rows: readonly (readonly SqlValue[])[];
  readonly updated: number;
}

/** How to run one statement; runners ignore what they cannot do. */
export interface ExecuteOptions {
  readonly transactionId?: string;
  /**
   * Ask for the rows as the Data API's JSON records, which cost far less to parse than typed fields
   * for a page of a thousand rows. Only for selects of text and number columns under distinct,
   * non-numeric names (the names are the JSON keys); 64-bit integers then come back as strings.
   * Implies `expectRows`.
   */
  readonly jsonRecords?: boolean;
  /**
   * The statement returns a result set (a SELECT): an answer that carries neither the rows asked for
   * nor evidence of an empty result set is an UnexpectedAnswerError, never zero rows.
   */
  readonly expectRows?: boolean;
}

/** Runs SQL with `:name` parameters, through the Data API or a direct connection. */
export interface SqlRunner {
  readonly dialect: Engine;
  execute(
    sql: string,
    params?: Readonly<Record<string, SqlValue>>,
    options?: ExecuteOptions,
  ): Promise<SqlResult>;
  begin(): Promise<string>;
  commit(transactionId: string): Promise<void>;
  rollback(transactionId: string): Promise<void>;
}

/** Time, injected so tests never sleep. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Structured log sink: one JSON object per call. Never pass a secret value or a decrypted field. */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Where a pass over the stored rows is, after one page. */
export interface ProgressEvent {
  readonly table: string;
  readonly column: string;
  /** Rows of this column handled so far in this pass, and the column's rows when the pass began. */
  readonly rows: number;
  readonly columnRows: number;
  /** Values handled over all columns of the pass, and values to handle (a row counts once per column). */
  readonly done: number;
  readonly total: number;
}

/** Progress of a pass, for the CLI's progress bars and the demo. */
export type ProgressSink = (event: ProgressEvent) => void;

/** A clock over real time. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
