import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createDataApiClient, dataApiRunner } from '../../lambda/data-api.js';
import { secretsManagerStore } from '../../lambda/secrets.js';
import { TableSql } from '../../lambda/sql.js';

const sm = mockClient(SecretsManagerClient);
const rds = mockClient(RDSDataClient);
const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf';
const TARGET = {
  resourceArn: 'arn:aws:rds:us-east-1:000000000000:cluster:app',
  secretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf',
  database: 'test',
  engine: 'postgres' as const,
};

describe('the Secrets Manager store', () => {
  beforeEach(() => sm.reset());
  const store = () => secretsManagerStore(new SecretsManagerClient({ region: 'us-east-1' }));

  it('describes versions and keeps an absent RotationEnabled as undefined', async () => {
    sm.on(DescribeSecretCommand).resolves({
      ARN,
      Name: 'app',
      VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    const d = await store().describe(ARN);
    assert.equal(d.rotationEnabled, undefined);
    assert.deepEqual(d.versions, [
      { versionId: 'v1', stages: ['AWSCURRENT'] },
      { versionId: 'v2', stages: ['AWSPENDING'] },
    ]);
  });

  it('answers undefined for a value that does not exist', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new ResourceNotFoundException({ message: 'not found', $metadata: {} }),
    );
    assert.equal(await store().getValue(ARN, { versionId: 'v2', stage: 'AWSPENDING' }), undefined);
    assert.deepEqual(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input, {
      SecretId: ARN,
      VersionId: 'v2',
      VersionStage: 'AWSPENDING',
    });
  });

  it('lets other errors through', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDeniedException' }),
    );
    await assert.rejects(store().getValue(ARN, { stage: 'AWSCURRENT' }), { name: 'AccessDeniedException' });
  });

  it('puts the pending value with the token, AWSPENDING and the RotationToken', async () => {
    sm.on(PutSecretValueCommand).resolves({});
    await store().putPending(ARN, 'tok', '{}', 'rt');
    assert.deepEqual(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input, {
      SecretId: ARN,
      ClientRequestToken: 'tok',
      SecretString: '{}',
      VersionStages: ['AWSPENDING'],
      RotationToken: 'rt',
    });
  });

  it('moves a stage with UpdateSecretVersionStage', async () => {
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    await store().moveStage(ARN, 'AWSCURRENT', { toVersionId: 'v2', fromVersionId: 'v1' });
    assert.deepEqual(sm.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input, {
      SecretId: ARN,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: 'v2',
      RemoveFromVersionId: 'v1',
    });
  });
});

describe('the Data API runner', () => {
  beforeEach(() => rds.reset());
  const runner = () => dataApiRunner(new RDSDataClient({ region: 'us-east-1' }), TARGET);

  it('sends typed named parameters and reads typed fields back', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      records: [
        [
          { longValue: 7 },
          { stringValue: 'x' },
          { isNull: true },
          { blobValue: new Uint8Array([1, 2]) },
          { booleanValue: true },
        ],
      ],
      numberOfRecordsUpdated: 0,
    });
    const r = await runner().execute('SELECT :a, :b, :c, :d, :e, :f', {
      a: 7,
      b: 'x',
      c: null,
      d: new Uint8Array([1, 2]),
      e: true,
      f: 1.5,
    });
    assert.deepEqual(r.rows, [[7, 'x', null, new Uint8Array([1, 2]), true]]);
    const input = rds.commandCalls(ExecuteStatementCommand)[0]?.args[0].input;
    assert.equal(input?.resourceArn, TARGET.resourceArn);
    assert.equal(input?.database, 'test');
    assert.deepEqual(input?.parameters, [
      { name: 'a', value: { longValue: 7 } },
      { name: 'b', value: { stringValue: 'x' } },
      { name: 'c', value: { isNull: true } },
      { name: 'd', value: { blobValue: new Uint8Array([1, 2]) } },
      { name: 'e', value: { booleanValue: true } },
      { name: 'f', value: { doubleValue: 1.5 } },
    ]);
  });

  it('asks for JSON records with longs as strings when told to, and keeps the select-list order', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      formattedRecords: JSON.stringify([
        { i: '9007199254740993', v: 'rk1:a' },
        { i: '9007199254740994', v: null },
      ]),
    });
    const r = await runner().execute('SELECT id AS i, c AS v FROM t', {}, { jsonRecords: true });
    assert.deepEqual(r.rows, [
      ['9007199254740993', 'rk1:a'],
      ['9007199254740994', null],
    ]);
    const input = rds.commandCalls(ExecuteStatementCommand)[0]?.args[0].input;
    assert.equal(input?.formatRecordsAs, 'JSON');
    assert.deepEqual(input?.resultSetOptions, { longReturnType: 'STRING' });
  });

  it('reports how many rows a statement updated', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 3 });
    assert.equal((await runner().execute('UPDATE t SET c = 1')).updated, 3);
  });

  it('refuses a JSON-records answer without formattedRecords rather than read it as no rows', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });
    await assert.rejects(runner().execute('SELECT id AS i, c AS v FROM t', {}, { jsonRecords: true }), {
      name: 'UnexpectedAnswerError',
      message:
        /asked for rows as JSON records \(formatRecordsAs JSON.*got an answer with only numberOfRecordsUpdated.*proxy or an SDK version.*engine/,
    });
  });

  it('reads a JSON request answered with typed records from those records (documented fallback)', async () => {
    rds.on(ExecuteStatementCommand).resolves({
      records: [[{ stringValue: '1152921504606846977' }, { stringValue: 'rk1:a' }]],
      numberOfRecordsUpdated: 0,
    });
    const r = await runner().execute('SELECT id AS i, c AS v FROM t', {}, { jsonRecords: true });
    assert.deepEqual(r.rows, [['1152921504606846977', 'rk1:a']]);
  });

  it('refuses formattedRecords that are not an array of records, naming no value', async () => {
    rds.on(ExecuteStatementCommand).resolves({ formattedRecords: '{"i":"rk1:secret-looking"}' });
    await assert.rejects(
      runner().execute('SELECT id AS i, c AS v FROM t', {}, { jsonRecords: true }),
      (error: Error) => error.name === 'UnexpectedAnswerError' && !error.message.includes('rk1:'),
    );
  });

  it('asks for column metadata when it expects typed rows, and reads metadata without records as no rows', async () => {
    rds.on(ExecuteStatementCommand).resolves({ columnMetadata: [{ name: 'i' }, { name: 'v' }] });
    const r = await runner().execute('SELECT id AS i, c AS v FROM t', {}, { expectRows: true });
    assert.deepEqual(r.rows, []);
    assert.equal(rds.commandCalls(ExecuteStatementCommand)[0]?.args[0].input.includeResultMetadata, true);
  });

  it('refuses a typed answer to a select that carries neither records nor column metadata', async () => {
    rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 0 });
    await assert.rejects(runner().execute('SELECT c FROM t', {}, { expectRows: true }), {
      name: 'UnexpectedAnswerError',
      message: /asked for rows as typed records.*got an answer with only numberOfRecordsUpdated/,
    });
  });

  it('counts an aggregate that came back without its row as an error, not as zero rows', async () => {
    const catalog = [
      ['id', 'bigint', 'bigint', 'NO', true],
      ['c', 'text', 'text', 'YES', false],
    ].map((r) => r.map((v) => (typeof v === 'boolean' ? { booleanValue: v } : { stringValue: String(v) })));
    rds
      .on(ExecuteStatementCommand)
      .callsFake((input: { sql?: string }) =>
        input.sql?.includes('information_schema') ? { records: catalog } : { records: [] },
      );
    const table = await TableSql.open(dataApiRunner(new RDSDataClient({ region: 'us-east-1' }), TARGET), {
      table: 't',
      id: 'id',
      columns: ['c'],
    });
    await assert.rejects(table.stats('c'), {
      name: 'UnexpectedAnswerError',
      message: /one row of COUNT, MAX and AVG over t\.c, got 0 rows/,
    });
  });
});

describe('the Data API client', () => {
  it('makes one attempt per call and carries no logger middleware', async () => {
    const client = createDataApiClient({ region: 'us-east-1' });
    assert.equal(await client.config.maxAttempts(), 1);
    assert.ok(!client.middlewareStack.identify().some((name) => name.startsWith('loggerMiddleware')));
    assert.ok(
      new RDSDataClient({ region: 'us-east-1' }).middlewareStack
        .identify()
        .some((name) => name.startsWith('loggerMiddleware')),
      'the SDK still names it so',
    );
  });
});
