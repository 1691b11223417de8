import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sleep } from '../clock.js';
import { type DataApiOperation, type Fault, type FaultInjector, faultError } from '../faults.js';
import { headerBytes, readBody } from '../http.js';
import { badRequest, DataApiError } from './errors.js';
import { batchExecuteRequest, beginRequest, endRequest, executeRequest, parseRequest } from './requests.js';
import type { DataApiService } from './service.js';

/** Counters a benchmark reads: calls, bytes on the wire, injected faults and errors. */
export interface DataApiStats {
  calls: number;
  byOperation: Record<DataApiOperation, number>;
  /** Request bytes received (headers and body). */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  faults: number;
  errors: number;
}

/** Zeroed counters. */
export function emptyStats(): DataApiStats {
  return {
    calls: 0,
    byOperation: {
      Execute: 0,
      BatchExecute: 0,
      BeginTransaction: 0,
      CommitTransaction: 0,
      RollbackTransaction: 0,
    },
    bytesIn: 0,
    bytesOut: 0,
    faults: 0,
    errors: 0,
  };
}

/**
 * One call as the endpoint saw it, for a listener that times calls (the benchmark's round trips). The
 * statement's text is passed as sent: rekey's carry their values in parameters, never in the text.
 */
export interface DataApiCall {
  readonly operation: DataApiOperation;
  /** ExecuteStatement's and BatchExecuteStatement's `sql`. */
  readonly sql: string | undefined;
  /** When the request had been read, and when its answer was written (ms since the epoch). */
  readonly receivedAt: number;
  readonly answeredAt: number;
  /** The error type answered (`x-amzn-ErrorType`), none for a success. */
  readonly errorType: string | undefined;
}

/** What the HTTP front of the Data API works with; latency and faults are read per call so tests can change them. */
export interface DataApiHttpContext {
  readonly service: DataApiService;
  readonly sleep: Sleep;
  stats(): DataApiStats;
  latencyMs(): number;
  faults(): FaultInjector | undefined;
  /** Told of every call of a known operation once it is answered. */
  onCall(): ((call: DataApiCall) => void) | undefined;
}

const OPERATIONS: ReadonlySet<string> = new Set([
  'Execute',
  'BatchExecute',
  'BeginTransaction',
  'CommitTransaction',
  'RollbackTransaction',
]);

/** Handles the Data API's REST JSON protocol: `POST /Execute` and friends, errors in `x-amzn-ErrorType`. */
export function createDataApiHandler(
  ctx: DataApiHttpContext,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((error: unknown) => {
      // Only reached if writing the response itself failed; the connection is gone.
      res.destroy(error as Error);
    });
  };
}

async function handle(ctx: DataApiHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]?.replace(/^\//, '') ?? '';
  const limit = ctx.service.limits.requestBytes;
  const { body, bytes, truncated } = await readBody(req, limit);
  const requestSize = bytes + headerBytes(req);
  if (req.method !== 'POST' || !OPERATIONS.has(path)) {
    send(ctx, res, new DataApiError('UnknownOperationException', `No operation at ${req.method} /${path}`));
    return;
  }
  const operation = path as DataApiOperation;
  const receivedAt = Date.now();
  ctx.stats().calls++;
  ctx.stats().byOperation[operation]++;
  ctx.stats().bytesIn += requestSize;
  await ctx.sleep(ctx.latencyMs());
  let request: unknown;
  let errorType: string | undefined;
  try {
    if (truncated || requestSize > limit) {
      throw new DataApiError(
        'RequestEntityTooLargeException',
        `Request size ${requestSize} bytes exceeds the maximum of ${limit} bytes`,
      );
    }
    const fault = ctx.faults()?.next(operation);
    if (fault) ctx.stats().faults++;
    if (fault && !fault.afterExecute) throw faultError(fault.kind);
    request = parseJson(body);
    const result = await dispatch(ctx.service, operation, request);
    if (fault) throw faultError((fault as Fault).kind);
    const json = JSON.stringify(result);
    if (Buffer.byteLength(json) > ctx.service.limits.responseBytes) {
      throw badRequest('Database returned more than the allowed response size limit');
    }
    sendJson(ctx, res, 200, json, {});
  } catch (error) {
    errorType = send(ctx, res, error);
  }
  const listener = ctx.onCall();
  if (!listener) return;
  // A call refused before its body was parsed (a fault, a size) is parsed here, for the listener only.
  const sql = sqlOf(request ?? parsedOrNothing(body));
  listener({ operation, sql, receivedAt, answeredAt: Date.now(), errorType });
}

function sqlOf(request: unknown): string | undefined {
  const sql = (request as { sql?: unknown } | undefined)?.sql;
  return typeof sql === 'string' ? sql : undefined;
}

function parsedOrNothing(body: Buffer): unknown {
  try {
    return parseJson(body);
  } catch {
    return undefined;
  }
}

async function dispatch(
  service: DataApiService,
  operation: DataApiOperation,
  body: unknown,
): Promise<Record<string, unknown>> {
  // Run expiry first so a transaction idle past its timeout releases its connection (PGlite's only one).
  await service.transactions.expire();
  switch (operation) {
    case 'Execute':
      return service.execute(parseRequest(executeRequest, body));
    case 'BatchExecute':
      return service.batchExecute(parseRequest(batchExecuteRequest, body));
    case 'BeginTransaction':
      return service.begin(parseRequest(beginRequest, body));
    case 'CommitTransaction':
      return service.end(parseRequest(endRequest, body), 'commit');
    case 'RollbackTransaction':
      return service.end(parseRequest(endRequest, body), 'rollback');
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('The request body is not valid JSON');
  }
}

/** Answers an error; returns its type. */
function send(ctx: DataApiHttpContext, res: ServerResponse, error: unknown): string {
  ctx.stats().errors++;
  const e =
    error instanceof DataApiError
      ? error
      : new DataApiError(
          'InternalServerErrorException',
          error instanceof Error ? error.message : String(error),
        );
  sendJson(ctx, res, e.status, JSON.stringify(e.body()), { 'x-amzn-ErrorType': e.type });
  return e.type;
}

function sendJson(
  ctx: DataApiHttpContext,
  res: ServerResponse,
  status: number,
  json: string,
  headers: Record<string, string>,
): void {
  const body = Buffer.from(json);
  ctx.stats().bytesOut += body.length;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(body);
}
