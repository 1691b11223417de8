import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandOutput,
  errorTypeRegistries,
  type Field,
  RDSDataClient,
  type RDSDataClientConfig,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { JsonCodec2, JsonShapeSerializer } from '@smithy/core/protocols';
import type { Engine } from './dialects.js';
import { UnexpectedAnswerError } from './errors.js';
import type { ExecuteOptions, SqlResult, SqlRunner, SqlValue } from './ports.js';

/** Where the Data API runs statements: the cluster, the credentials secret and the database. */
export interface DataApiTarget {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
  readonly engine: Engine;
}

/**
 * The Data API client as rekey needs it, for the Lambda and the CLI alike. One attempt per call:
 * rekey's own retry owns backoff, so a retry is always a deliberate, compare-and-swap-safe one. No
 * logger middleware: it deep-copies every request and response through the SDK's sensitive-data filter
 * even when nothing logs them, a fifth of the Lambda's CPU on a page of a thousand rows; rekey logs its
 * own lines. Requests are written by JSON.stringify (see StringifyingJsonCodec).
 */
export function createDataApiClient(config: RDSDataClientConfig = {}): RDSDataClient {
  const client = new RDSDataClient({
    protocolSettings: stringifyingProtocolSettings(),
    ...config,
    maxAttempts: 1,
  });
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

/** The settings AwsRestJsonProtocol gives its codec (@aws-sdk/core, restJson1). */
const REST_JSON_SETTINGS = {
  timestampFormat: { useTrait: true, default: 7 /* epoch seconds */ },
  httpBindings: true,
  jsonName: true,
} as const;

/**
 * The SDK's own restJson1 codec with its older serializer: the current one writes every string of a
 * request character by character in JavaScript, about 3 ms of CPU for a compare-and-swap page (three
 * array literals of a thousand values each, ~350 KB), a tenth of setSecret's CPU per row; the older one
 * builds the same object and hands it to JSON.stringify. The bytes on the wire are the same
 * (test/lambda/data-api-wire.test.ts). Answers are still read by the current deserializer, which reads
 * typed records faster than the older one.
 */
class StringifyingJsonCodec extends JsonCodec2 {
  override createSerializer(): ReturnType<JsonCodec2['createSerializer']> {
    const serializer = new BytesJsonShapeSerializer(this.settings);
    // Unset while the protocol is built; the protocol hands its serializer the context later.
    if (this.serdeContext) serializer.setSerdeContext(this.serdeContext);
    return serializer as unknown as ReturnType<JsonCodec2['createSerializer']>;
  }
}

class BytesJsonShapeSerializer extends JsonShapeSerializer {
  override flush(): string {
    const json = super.flush();
    // Bytes, as the current serializer gives: the content length, the signature's payload hash and the
    // socket write use them as they are, where a string would be encoded to UTF-8 for each.
    return (typeof json === 'string' ? Buffer.from(json, 'utf8') : json) as unknown as string;
  }
}

/** RDSDataClient's default protocol settings (its runtimeConfig.shared), with the codec above. */
function stringifyingProtocolSettings(): Record<string, unknown> {
  return {
    defaultNamespace: 'com.amazonaws.rdsdata',
    errorTypeRegistries,
    version: '2018-08-01',
    serviceTarget: 'RdsDataService',
    jsonCodec: new StringifyingJsonCodec(REST_JSON_SETTINGS),
  };
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
          // Column metadata tells an empty result set from an answer that lost its records.
          ...(options.expectRows && !options.jsonRecords && { includeResultMetadata: true }),
        }),
      );
      return { rows: rowsOf(out, options), updated: out.numberOfRecordsUpdated ?? 0 };
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

/**
 * The rows of an answer, failing closed. A JSON request reads `formattedRecords` (the service answers
 * `[]` for no rows); answered with typed `records` instead (a proxy or an SDK that dropped
 * `formatRecordsAs`), it reads those: the same rows, and rekey selects ids as text, so nothing loses
 * digits. A typed request that expects rows reads `records`, or no rows when the answer carries the
 * result set's column metadata without records. Anything else, for a statement that returns rows, is
 * an UnexpectedAnswerError rather than an empty page: a pass that reads nothing must not pass.
 * @throws UnexpectedAnswerError naming what was asked and the answer's field names (never values).
 */
function rowsOf(out: ExecuteStatementCommandOutput, options: ExecuteOptions): SqlValue[][] {
  if (options.jsonRecords && out.formattedRecords !== undefined) return fromJsonRecords(out.formattedRecords);
  if (out.records !== undefined) return out.records.map((record) => record.map(fromField));
  if (!options.jsonRecords && !options.expectRows) return [];
  if (!options.jsonRecords && (out.columnMetadata?.length ?? 0) > 0) return [];
  throw new UnexpectedAnswerError(
    options.jsonRecords
      ? 'rows as JSON records (formatRecordsAs JSON, answered in formattedRecords)'
      : 'rows as typed records (with includeResultMetadata)',
    `an answer with ${answerFields(out)}`,
  );
}

/** The names of the fields an answer carries, for messages: names only, never values. */
function answerFields(out: ExecuteStatementCommandOutput): string {
  const names = Object.entries(out)
    .filter(([name, value]) => name !== '$metadata' && value !== undefined)
    .map(([name]) => name);
  return names.length > 0 ? `only ${names.join(', ')}` : 'no fields';
}

/** Rows in select-list order: JSON objects keep the order of non-numeric keys. */
function fromJsonRecords(formatted: string): SqlValue[][] {
  let records: unknown;
  try {
    records = JSON.parse(formatted);
  } catch {
    // No cause: the parser's message quotes the text, which holds stored values.
    throw new UnexpectedAnswerError('rows as JSON records', 'formattedRecords that is not JSON');
  }
  if (!Array.isArray(records)) throw notRecords();
  // One pass that checks and converts: a page holds a thousand records.
  const rows: SqlValue[][] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record: unknown = records[i];
    if (typeof record !== 'object' || record === null) throw notRecords();
    rows[i] = Object.values(record as Record<string, SqlValue>);
  }
  return rows;
}

function notRecords(): UnexpectedAnswerError {
  return new UnexpectedAnswerError(
    'rows as JSON records',
    'formattedRecords that is not an array of objects',
  );
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
