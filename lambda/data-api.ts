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
import type { SqlResult, SqlRunner, SqlValue } from './ports.js';

/** Where the Data API runs statements: the cluster, the credentials secret and the database. */
export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  readonly engine: 'postgres' | 'mysql';
}

/**
 * The Data API client as rekey needs it, for the Lambda and the CLI alike. One attempt per call:
 * rekey's own retry owns backoff, so a retry is always a deliberate, compare-and-swap-safe one. No
 * logger middleware: it deep-copies every request and response through the SDK's sensitive-data filter
 * even when nothing logs them, a fifth of the Lambda's CPU on a page of a thousand rows; rekey logs its
 * own lines.
 */
export function createDataApiClient(config: RDSDataClientConfig = {}): RDSDataClient {
  const client = new RDSDataClient({ ...config, maxAttempts: 1 });
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/** A SQL runner over the RDS Data API (the real service or the local endpoint: same wire). */
export function dataApiRunner(client: RDSDataClient, target: DataApiTarget): SqlRunner {
  const base = { resourceArn: target.resourceArn, secretArn: target.secretArn, database: target.database };
  return {
    dialect: target.engine,

    async execute(sql, params = {}, options = {}): Promise<SqlResult> {
      const out = await client.send(
        new ExecuteStatementCommand({
          ...base,
          sql,
          parameters: Object.entries(params).map(([name, value]) => toParameter(name, value)),
          transactionId: options.transactionId,
          ...(options.jsonRecords && {
            formatRecordsAs: 'JSON',
            // Ids above 2^53 would lose digits as JSON numbers.
            resultSetOptions: { longReturnType: 'STRING' },
          }),
        }),
      );
      return {
        rows: options.jsonRecords
          ? fromJsonRecords(out.formattedRecords)
          : (out.records ?? []).map((record) => record.map(fromField)),
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

/** Rows in select-list order: JSON objects keep the order of non-numeric keys. */
function fromJsonRecords(formatted: string | undefined): SqlValue[][] {
  if (!formatted) return [];
  return (JSON.parse(formatted) as Record<string, SqlValue>[]).map((record) => Object.values(record));
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
