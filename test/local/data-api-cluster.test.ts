import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BadRequestException,
  BeginTransactionCommand,
  ExecuteStatementCommand,
  type RDSDataClient,
} from '@aws-sdk/client-rds-data';
import {
  LOCAL_CLUSTER_ARN,
  LOCAL_DB_SECRET_ARN,
  type RunningDataApi,
  startDataApi,
  startLocal,
} from '../../local/index.js';
import { localDataClient } from '../support/local-clients.js';
import { fakeEngine } from '../support/local-fake-engine.js';

const OTHER_CLUSTER = 'arn:aws:rds:us-east-1:000000000000:cluster:someone-else';
const APP_CLUSTER = 'arn:aws:rds:eu-west-1:123456789012:cluster:app';

describe('the clusters the local Data API answers for', () => {
  let api: RunningDataApi;
  let client: RDSDataClient;
  const target = { secretArn: LOCAL_DB_SECRET_ARN, database: 'postgres' };

  before(async () => {
    api = await startDataApi({ engine: fakeEngine() });
    client = localDataClient(api.url);
  });
  after(async () => {
    client.destroy();
    await api.close();
  });

  it('runs statements for its own cluster', async () => {
    const out = await client.send(
      new ExecuteStatementCommand({ ...target, resourceArn: LOCAL_CLUSTER_ARN, sql: 'SELECT 1' }),
    );
    assert.deepEqual(out.records, [[{ longValue: 1 }]]);
  });

  it('refuses another cluster ARN as the service does: HTTP 400 BadRequestException naming the cluster', async () => {
    for (const call of [
      () =>
        client.send(new ExecuteStatementCommand({ ...target, resourceArn: OTHER_CLUSTER, sql: 'SELECT 1' })),
      () => client.send(new BeginTransactionCommand({ ...target, resourceArn: OTHER_CLUSTER })),
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof BadRequestException, `got ${String(error)}`);
        assert.equal(error.$metadata.httpStatusCode, 400);
        assert.equal(error.message, 'HttpEndpoint is not enabled for cluster someone-else');
        return true;
      });
    }
    await assert.rejects(
      client.send(
        new ExecuteStatementCommand({
          ...target,
          resourceArn: LOCAL_CLUSTER_ARN.toUpperCase(),
          sql: 'SELECT 1',
        }),
      ),
      BadRequestException,
      'the ARN must match exactly, letter case included',
    );
  });

  it('answers for the clusters it is given instead, and startLocal targets the first', async () => {
    const local = await startLocal({ engine: fakeEngine(), clusterArns: [APP_CLUSTER] });
    const data = localDataClient(local.dataApiUrl);
    try {
      assert.equal(local.dataApiTarget.resourceArn, APP_CLUSTER);
      const out = await data.send(new ExecuteStatementCommand({ ...local.dataApiTarget, sql: 'SELECT 1' }));
      assert.deepEqual(out.records, [[{ longValue: 1 }]]);
      await assert.rejects(
        data.send(
          new ExecuteStatementCommand({ ...target, resourceArn: LOCAL_CLUSTER_ARN, sql: 'SELECT 1' }),
        ),
        BadRequestException,
      );
    } finally {
      data.destroy();
      await local.close();
    }
    await assert.rejects(startLocal({ engine: fakeEngine(), clusterArns: ['cluster:app'] }), {
      name: 'RangeError',
      message: /clusterArns .* got 'cluster:app'/,
    });
  });
});
