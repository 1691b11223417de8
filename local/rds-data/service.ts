import type { LocalClock } from '../clock.js';
import type { CellValue, Database, EngineResult, EngineSession } from '../engines/types.js';
import { SqlError } from '../engines/types.js';
import { badRequest } from './errors.js';
import {
  type BoundParameter,
  bindField,
  castsParameters,
  columnMetadata,
  type ReturnTypes,
  rowBytes,
  toField,
  toJsonValue,
} from './fields.js';
import type {
  BatchExecuteRequest,
  BeginRequest,
  EndRequest,
  ExecuteRequest,
  SqlParameterInput,
} from './requests.js';
import { scanSql, toPositional } from './sql-params.js';
import { LOCAL_CLUSTER_ARN } from './target.js';
import {
  DEFAULT_TRANSACTION_TIMEOUTS,
  TransactionRegistry,
  type TransactionTimeouts,
} from './transactions.js';

/** The service's size limits. */
export interface DataApiLimits {
  /** A response body over this fails ("Database returned more than the allowed response size limit"). */
  readonly responseBytes: number;
  /** A result row over this fails. */
  readonly rowBytes: number;
  /** A request (headers and body) over this is refused before it runs. */
  readonly requestBytes: number;
}

/** 1 MiB responses, 64 KB rows, 4 MiB requests, as the service documents. */
export const DEFAULT_LIMITS: DataApiLimits = {
  responseBytes: 1024 * 1024,
  rowBytes: 64 * 1024,
  requestBytes: 4 * 1024 * 1024,
};

/** What the Data API service runs on. */
export interface DataApiServiceOptions {
  readonly engine: Database;
  readonly clock: LocalClock;
  readonly limits?: Partial<DataApiLimits>;
  readonly transactionTimeouts?: Partial<TransactionTimeouts>;
  /** The clusters it answers for; any other resourceArn is refused as the service refuses it. @default [LOCAL_CLUSTER_ARN] */
  readonly clusterArns?: readonly string[];
}

const RESOURCE_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

/**
 * The RDS Data API's operations over an engine, independent of HTTP: request validation, `:name`
 * parameters, typed Fields, transactions and row limits. Answers are wire-shaped objects.
 */
export class DataApiService {
  readonly engine: Database;
  readonly limits: DataApiLimits;
  readonly transactions: TransactionRegistry;
  /** The cluster ARNs requests may name. */
  readonly clusterArns: ReadonlySet<string>;

  /** @throws RangeError when a cluster ARN is not one (the service could never be addressed with it). */
  constructor(options: DataApiServiceOptions) {
    this.engine = options.engine;
    const clusters = options.clusterArns ?? [LOCAL_CLUSTER_ARN];
    for (const arn of clusters) {
      if (!RESOURCE_ARN.test(arn)) {
        throw new RangeError(
          `clusterArns must hold Aurora cluster ARNs (arn:aws:rds:REGION:ACCOUNT:cluster:NAME), got '${arn}'`,
        );
      }
    }
    this.clusterArns = new Set(clusters);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.transactions = new TransactionRegistry(options.clock, {
      ...DEFAULT_TRANSACTION_TIMEOUTS,
      ...options.transactionTimeouts,
    });
  }

  /**
   * ExecuteStatement.
   * @throws DataApiError for invalid requests, SQL errors (BadRequestException), transaction errors.
   */
  async execute(request: ExecuteRequest): Promise<Record<string, unknown>> {
    this.checkTarget(request, request.transactionId === undefined);
    const statement = this.prepare(request.sql, request.parameters ?? []);
    const result = await this.onSession(request.transactionId, (session) =>
      session.query(statement.sql, statement.values),
    );
    const types: ReturnTypes = {
      decimalReturnType: request.resultSetOptions?.decimalReturnType ?? 'STRING',
      longReturnType: request.resultSetOptions?.longReturnType ?? 'LONG',
    };
    const out: Record<string, unknown> = {};
    if (result.hasResultSet) {
      this.checkRows(result.rows);
      if (request.formatRecordsAs === 'JSON') out.formattedRecords = formatJson(result, types);
      else
        out.records = result.rows.map((row) => row.map((cell, i) => toField(cell, column(result, i), types)));
      if (request.includeResultMetadata) out.columnMetadata = result.columns.map(columnMetadata);
    } else {
      out.generatedFields = generatedFields(result);
    }
    out.numberOfRecordsUpdated = result.updated;
    return out;
  }

  /**
   * BatchExecuteStatement: one statement over many parameter sets. Outside a transaction the batch
   * is atomic (the JDBC driver sends it as one implicit transaction).
   * @throws DataApiError as `execute` does.
   */
  async batchExecute(request: BatchExecuteRequest): Promise<Record<string, unknown>> {
    this.checkTarget(request, request.transactionId === undefined);
    const sets = request.parameterSets ?? [];
    const statements = (sets.length > 0 ? sets : [[]]).map((set) => this.prepare(request.sql, set));
    const runAll = async (session: EngineSession): Promise<EngineResult[]> => {
      const results: EngineResult[] = [];
      for (const s of statements) results.push(await session.query(s.sql, s.values));
      return results;
    };
    let results: EngineResult[];
    if (request.transactionId !== undefined) {
      results = await this.onSession(request.transactionId, runAll);
    } else {
      const tx = await this.engine.begin();
      try {
        results = await runAll(tx);
        await tx.commit();
      } catch (error) {
        await tx.rollback().catch(() => {});
        throw sqlToBadRequest(error);
      }
    }
    return {
      updateResults: sets.length === 0 ? [] : results.map((r) => ({ generatedFields: generatedFields(r) })),
    };
  }

  /**
   * BeginTransaction.
   * @throws DataApiError for invalid requests.
   */
  async begin(request: BeginRequest): Promise<Record<string, unknown>> {
    this.checkTarget(request, true);
    const transactionId = await this.transactions.begin(this.engine).catch((error: unknown) => {
      throw sqlToBadRequest(error);
    });
    return { transactionId };
  }

  /**
   * CommitTransaction or RollbackTransaction.
   * @throws DataApiError TransactionNotFoundException for unknown, ended or expired transactions.
   */
  async end(request: EndRequest, how: 'commit' | 'rollback'): Promise<Record<string, unknown>> {
    this.checkTarget(request, false);
    if (!request.transactionId) throw badRequest('transactionId is required');
    await this.transactions.end(request.transactionId, how).catch((error: unknown) => {
      throw sqlToBadRequest(error);
    });
    return { transactionStatus: how === 'commit' ? 'Transaction Committed' : 'Rollback Complete' };
  }

  /** Rolls back open transactions and closes the engine. */
  async close(): Promise<void> {
    await this.transactions.closeAll();
    await this.engine.close();
  }

  private checkTarget(
    request: {
      resourceArn?: string | undefined;
      secretArn?: string | undefined;
      database?: string;
      schema?: string;
    },
    needsDatabase: boolean,
  ): void {
    if (!request.resourceArn) throw badRequest('resourceArn is required');
    if (!RESOURCE_ARN.test(request.resourceArn))
      throw badRequest(`Invalid resourceArn: ${request.resourceArn}`);
    if (!this.clusterArns.has(request.resourceArn)) {
      // What the service answers for an ARN that does not exactly match a cluster with the Data API on.
      const cluster = request.resourceArn.slice(request.resourceArn.lastIndexOf(':') + 1);
      throw badRequest(`HttpEndpoint is not enabled for cluster ${cluster}`);
    }
    if (!request.secretArn) throw badRequest('secretArn is required');
    if (!SECRET_ARN.test(request.secretArn)) throw badRequest(`Invalid secretArn: ${request.secretArn}`);
    if (needsDatabase && !request.database) throw badRequest('database is required');
    if (request.schema !== undefined) throw badRequest("The schema parameter isn't supported.");
  }

  private prepare(
    sql: string | undefined,
    parameters: readonly SqlParameterInput[],
  ): { sql: string; values: BoundParameter['value'][] } {
    if (!sql || sql.trim() === '') throw badRequest('sql is required');
    const scanned = scanSql(sql, this.engine.dialect);
    if (scanned.multipleStatements) throw badRequest("Multistatements aren't supported.");
    const bound = new Map<string, BoundParameter>();
    for (const p of parameters) bound.set(p.name, bindField(p.name, p.value, p.typeHint));
    const lookup = (name: string): BoundParameter => {
      const value = bound.get(name);
      if (!value) throw badRequest(`No value specified for parameter: ${name}`);
      return value;
    };
    const casts = castsParameters(this.engine.dialect);
    const positional = toPositional(scanned, this.engine.dialect, lookup, (name) => {
      const type = casts ? bound.get(name)?.pgType : undefined;
      return type ? `::${type}` : '';
    });
    return { sql: positional.sql, values: positional.values.map((p) => p.value) };
  }

  private async onSession<T>(
    transactionId: string | undefined,
    work: (s: EngineSession) => Promise<T>,
  ): Promise<T> {
    try {
      if (transactionId === undefined) return await work(this.engine);
      return await this.transactions.run(transactionId, work);
    } catch (error) {
      throw sqlToBadRequest(error);
    }
  }

  private checkRows(rows: readonly (readonly CellValue[])[]): void {
    for (const row of rows) {
      const size = rowBytes(row);
      if (size > this.limits.rowBytes) {
        throw badRequest(
          `Packet for query is too large: a result row of ${size} bytes is over the ${this.limits.rowBytes}-byte row limit`,
        );
      }
    }
  }
}

function column(result: EngineResult, i: number) {
  const c = result.columns[i];
  if (!c) throw new Error(`result has no column ${i}`);
  return c;
}

function generatedFields(result: EngineResult): unknown[] {
  if (result.generatedId !== undefined) return [{ longValue: Number(result.generatedId) }];
  // PostgreSQL: a RETURNING clause's first row, as the service reports it for batches.
  const first = result.rows[0];
  const types: ReturnTypes = { decimalReturnType: 'STRING', longReturnType: 'LONG' };
  return first ? first.map((cell, i) => toField(cell, column(result, i), types)) : [];
}

function formatJson(result: EngineResult, types: ReturnTypes): string {
  const labels = result.columns.map((c) => c.label);
  const duplicate = labels.find((label, i) => labels.indexOf(label) !== i);
  if (duplicate !== undefined) {
    throw badRequest(
      `The result set has more than one column named ${duplicate}; give the columns unique aliases.`,
    );
  }
  const records = result.rows.map((row) => {
    const record: Record<string, unknown> = {};
    row.forEach((cell, i) => {
      record[labels[i] as string] = toJsonValue(cell, column(result, i), types);
    });
    return record;
  });
  return JSON.stringify(records);
}

function sqlToBadRequest(error: unknown): unknown {
  return error instanceof SqlError ? badRequest(error.message) : error;
}
