import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../http.js';
import { SecretsManagerError } from './errors.js';

/** Runs one operation by name on a parsed JSON body. */
export type SecretsManagerDispatch = (operation: string, body: unknown) => Promise<Record<string, unknown>>;

const TARGET_PREFIX = 'secretsmanager.';
const MAX_BODY = 1024 * 1024;

/**
 * Handles the JSON 1.1 protocol: `POST /` with `X-Amz-Target: secretsmanager.<Operation>`; errors as
 * HTTP 400 (500 for InternalServiceError) with `{"__type", "message"}`, which the SDK turns into its
 * named exceptions.
 */
export function createSecretsManagerHandler(
  dispatch: SecretsManagerDispatch,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(dispatch, req, res).catch((error: unknown) => res.destroy(error as Error));
  };
}

async function handle(
  dispatch: SecretsManagerDispatch,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { body, truncated } = await readBody(req, MAX_BODY);
  try {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (req.method !== 'POST' || !target.startsWith(TARGET_PREFIX)) {
      throw new SecretsManagerError(
        'UnknownOperationException',
        `Unknown operation ${target || '(no X-Amz-Target)'}`,
      );
    }
    if (truncated) throw new SecretsManagerError('InvalidRequestException', 'The request is too large.');
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      throw new SecretsManagerError('SerializationException', 'The request body is not valid JSON.');
    }
    const result = await dispatch(target.slice(TARGET_PREFIX.length), parsed);
    send(res, 200, result);
  } catch (error) {
    const e =
      error instanceof SecretsManagerError
        ? error
        : new SecretsManagerError(
            'InternalServiceError',
            error instanceof Error ? error.message : String(error),
          );
    send(res, e.status, { __type: e.type, message: e.message });
  }
}

function send(res: ServerResponse, status: number, payload: Record<string, unknown>): void {
  // JSON.stringify drops undefined members, so optional fields simply stay out of the answer.
  const body = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': String(body.length),
    'x-amzn-RequestId': randomUUID(),
  });
  res.end(body);
}
