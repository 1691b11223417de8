import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  RDSDataClient,
  type RDSDataClientConfig,
} from '@aws-sdk/client-rds-data';
import { createDataApiClient, dataApiRunner } from '../../lambda/data-api.js';
import { UnexpectedAnswerError } from '../../lambda/errors.js';

const TARGET = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
  database: 'test',
  engine: 'postgres' as const,
};

/** Every UTF-16 unit a JSON writer treats specially, lone surrogates and a pair among them. */
const AWKWARD_TEXT = `${Array.from({ length: 0x300 }, (_, i) => String.fromCharCode(i)).join('')}\ud800\udfff\ud83d\ude00\u2028\u2029"\\/`;

/** Requests that cover every member and parameter type rekey sends, and some it does not. */
const REQUESTS: readonly ExecuteStatementCommandInput[] = [
  {
    ...TARGET,
    sql: 'UPDATE t SET c = v.n FROM unnest(CAST(:ids AS bigint[]), CAST(:olds AS text[])) AS v(i, o)',
    parameters: [
      { name: 'ids', value: { stringValue: '{1,2,9007199254740993}' } },
      { name: 'olds', value: { stringValue: AWKWARD_TEXT } },
      { name: 'l', value: { longValue: -42 } },
      { name: 'd', value: { doubleValue: -0.1 } },
      { name: 'z', value: { doubleValue: -0 } },
      { name: 'b', value: { booleanValue: false } },
      { name: 'blob', value: { blobValue: Uint8Array.from({ length: 256 }, (_, i) => i) } },
      { name: 'n', value: { isNull: true } },
      { name: 'ts', value: { stringValue: '2024-01-01 00:00:00' }, typeHint: 'TIMESTAMP' },
    ],
    transactionId: 'tx-1',
    includeResultMetadata: true,
    continueAfterTimeout: false,
  },
  {
    ...TARGET,
    sql: 'SELECT id::text, c FROM t WHERE id > :after ORDER BY id LIMIT 1000',
    parameters: [{ name: 'after', value: { stringValue: '0' } }],
    formatRecordsAs: 'JSON',
    resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'STRING' },
  },
  { ...TARGET, sql: 'SELECT 1', parameters: [] },
];

/** A client whose HTTP handler records each request's body and answers with `answer`. */
function recordingClient(
  make: (config: RDSDataClientConfig) => RDSDataClient,
  answer = '{"numberOfRecordsUpdated":0}',
): { client: RDSDataClient; bodies: string[] } {
  const bodies: string[] = [];
  const client = make({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      handle: async (request: { body?: unknown }) => {
        const body = request.body;
        bodies.push(typeof body === 'string' ? body : Buffer.from(body as Uint8Array).toString('utf8'));
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/json' },
            body: Buffer.from(answer, 'utf8'),
          },
        };
      },
    } as unknown as RDSDataClientConfig['requestHandler'],
  });
  return { client, bodies };
}

describe('the Data API client on the wire', () => {
  it('sends exactly the bytes the stock SDK client sends, for every request shape', async () => {
    const stock = recordingClient((config) => new RDSDataClient(config));
    const ours = recordingClient(createDataApiClient);
    for (const input of REQUESTS) {
      await stock.client.send(new ExecuteStatementCommand(input));
      await ours.client.send(new ExecuteStatementCommand(input));
    }
    await stock.client.send(new BeginTransactionCommand(TARGET));
    await ours.client.send(new BeginTransactionCommand(TARGET));
    await stock.client.send(new CommitTransactionCommand({ ...TARGET, transactionId: 'tx-1' }));
    await ours.client.send(new CommitTransactionCommand({ ...TARGET, transactionId: 'tx-1' }));
    assert.equal(ours.bodies.length, REQUESTS.length + 2);
    assert.deepEqual(ours.bodies, stock.bodies);
    assert.ok(ours.bodies[0]?.includes('"blobValue":"AAECAwQF'), 'blobs travel as base64');
  });

  it('writes a request with JSON.stringify, not character by character', async () => {
    const { client } = recordingClient(createDataApiClient);
    const stringify = mock.method(JSON, 'stringify');
    try {
      await client.send(new ExecuteStatementCommand(REQUESTS[0] as ExecuteStatementCommandInput));
    } finally {
      stringify.mock.restore();
    }
    const wrote = stringify.mock.calls.some(
      (call) => (call.arguments[0] as { sql?: unknown } | null)?.sql === REQUESTS[0]?.sql,
    );
    assert.ok(wrote, 'the request object went through JSON.stringify');
  });

  it('reads answers as before: JSON records in order, and a missing record set fails closed', async () => {
    const json = recordingClient(
      createDataApiClient,
      JSON.stringify({ formattedRecords: '[{"id":"9007199254740993","c":"rk1:x"}]' }),
    );
    const rows = await dataApiRunner(json.client, TARGET).execute('SELECT', {}, { jsonRecords: true });
    assert.deepEqual(rows.rows, [['9007199254740993', 'rk1:x']]);

    const typed = recordingClient(
      createDataApiClient,
      JSON.stringify({ records: [[{ longValue: 7 }, { blobValue: 'AAE=' }, { isNull: true }]] }),
    );
    const got = await dataApiRunner(typed.client, TARGET).execute('SELECT', {}, { expectRows: true });
    assert.deepEqual(got.rows, [[7, Uint8Array.from([0, 1]), null]]);

    const empty = recordingClient(createDataApiClient, '{"numberOfRecordsUpdated":0}');
    await assert.rejects(
      dataApiRunner(empty.client, TARGET).execute('SELECT', {}, { expectRows: true }),
      UnexpectedAnswerError,
    );
  });
});
