import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  RDSDataClient,
  type RDSDataClientConfig,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import type { SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { knobs } from './knobs.js';

/** A runner that can also return a result set as the Data API's JSON records (one string). */
export interface JsonRecordsRunner extends SqlRunner {
  /** Rows in select-list order; longs come back as strings, as `longReturnType: 'STRING'` gives them. */
  executeJson(sql: string, params?: Readonly<Record<string, SqlValue>>): Promise<SqlResult>;
}

/** Whether the runner can return JSON records (the prototype's Data API runner can). */
export function hasJsonRecords(db: SqlRunner): db is JsonRecordsRunner {
  return 'executeJson' in db && knobs.jsonRecords;
}

/** Where the Data API runs statements: the cluster, the credentials secret and the database. */
export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  readonly engine: 'postgres' | 'mysql';
}

/**
 * As lambda/data-api.ts builds the client (lambda/deps.ts imports it from there): one attempt per call,
 * no logger middleware.
 */
export function createDataApiClient(config: RDSDataClientConfig = {}): RDSDataClient {
  const client = new RDSDataClient({ ...config, maxAttempts: 1 });
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/** PROTOTYPE of lambda/data-api.ts: see knobs.ts for what changes. */
export function dataApiRunner(client: RDSDataClient, target: DataApiTarget): JsonRecordsRunner {
  const base = { resourceArn: target.resourceArn, secretArn: target.secretArn, database: target.database };
  // The logger middleware filters every input and output for logging even when nothing logs them.
  if (knobs.nolog) client.middlewareStack.remove('loggerMiddleware');
  return {
    dialect: target.engine,

    async executeJson(sql, params = {}): Promise<SqlResult> {
      const out = await client.send(
        new ExecuteStatementCommand({
          ...base,
          sql,
          parameters: Object.entries(params).map(([name, value]) => toParameter(name, value)),
          formatRecordsAs: 'JSON',
          resultSetOptions: { longReturnType: 'STRING' },
        }),
      );
      const records = JSON.parse(out.formattedRecords ?? '[]') as Record<string, SqlValue>[];
      return { rows: records.map((r) => Object.values(r)), updated: out.numberOfRecordsUpdated ?? 0 };
    },

    async execute(sql, params = {}, options): Promise<SqlResult> {
      const out = await client.send(
        new ExecuteStatementCommand({
          ...base,
          sql,
          parameters: Object.entries(params).map(([name, value]) => toParameter(name, value)),
          transactionId: options?.transactionId,
        }),
      );
      return {
        rows: (out.records ?? []).map((record) => record.map(fromField)),
        updated: out.numberOfRecordsUpdated ?? 0,
      };
    },

    async begin(): Promise<string> {
      const out = await client.send(new BeginTransactionCommand(base));
      if (!out.transactionId) throw new Error('BeginTransaction returned no transactionId');
      return out.transactionId;
    },

    async commit(transactionId): Promise<void> {
      await client.send(
        new CommitTransactionCommand({
          resourceArn: base.resourceArn,
          secretArn: base.secretArn,
          transactionId,
        }),
      );
    },

    async rollback(transactionId): Promise<void> {
      await client.send(
        new RollbackTransactionCommand({
          resourceArn: base.resourceArn,
          secretArn: base.secretArn,
          transactionId,
        }),
      );
    },
  };
}

function toParameter(name: string, value: SqlValue): SqlParameter {
  if (value === null) return { name, value: { isNull: true } };
  if (typeof value === 'string') return { name, value: { stringValue: value } };
  if (typeof value === 'boolean') return { name, value: { booleanValue: value } };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { name, value: { longValue: value } }
      : { name, value: { doubleValue: value } };
  }
  return { name, value: { blobValue: value } };
}

function fromField(field: Field): SqlValue {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return field.blobValue;
  if (field.arrayValue !== undefined) return JSON.stringify(field.arrayValue);
  return null;
}
