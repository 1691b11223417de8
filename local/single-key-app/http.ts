import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SqlValue } from '../../lambda/index.js';
import type { ReadOutcome, SingleKeyReader } from './reader.js';

/** HTTP status per read outcome: a row the key cannot open is a server error, as in Redash. */
const STATUS: Readonly<Record<ReadOutcome, number>> = { ok: 200, undecryptable: 500, missing: 404 };

/**
 * The single-key app's requests, answered with JSON that says how a read went and never what it read:
 *
 * - `GET /read?table=T&id=N`: one row (`{ outcome }`, status 200, 500 undecryptable, 404 missing)
 * - `GET /read-all?table=T`: every row of T (`{ rows, undecryptable }`)
 * - `GET /health`: `{ pid, kid, counts }`, the key's public id and the reads so far
 *
 * A failed Data API call is a 502 with the error's name.
 */
export function singleKeyAppHandler(reader: SingleKeyReader) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void answer(reader, req).then(
      ({ status, body }) => send(res, status, body),
      (error: unknown) => send(res, 502, { error: error instanceof Error ? error.name : 'Error' }),
    );
  };
}

async function answer(
  reader: SingleKeyReader,
  req: IncomingMessage,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(req.url ?? '/', 'http://app.local');
  const table = url.searchParams.get('table') ?? '';
  if (req.method !== 'GET') return { status: 405, body: { error: 'MethodNotAllowed' } };
  if ((url.pathname === '/read' || url.pathname === '/read-all') && !reader.tables().includes(table))
    return { status: 400, body: { error: 'UnknownTable', tables: reader.tables() } };
  switch (url.pathname) {
    case '/read': {
      const outcome = await reader.read(table, idParam(url.searchParams.get('id') ?? ''));
      return { status: STATUS[outcome], body: { outcome } };
    }
    case '/read-all':
      return { status: 200, body: { ...(await reader.readAll(table)) } };
    case '/health':
      return { status: 200, body: { pid: process.pid, kid: reader.kid, counts: reader.stats() } };
    default:
      return { status: 404, body: { error: 'NotFound' } };
  }
}

/** An id from the query string: a number when it is an integer, so it compares with numeric id columns. */
function idParam(text: string): SqlValue {
  const n = Number(text);
  return /^-?\d+$/.test(text) && Number.isSafeInteger(n) ? n : text;
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
