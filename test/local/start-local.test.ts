import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type RotationInvocation, startLocal } from '../../local/index.js';
import { LOCAL_CRASH_SECRET, LOCAL_CRASH_TOKEN } from '../support/local-crash-process.js';
import { rejectsNamed } from '../support/local-data-api-suite.js';
import { fakeEngine } from '../support/local-fake-engine.js';
import { writeStepScript } from '../support/local-step-script.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
const CRASH_PROCESS = fileURLToPath(new URL('../support/local-crash-process.ts', import.meta.url));
const TSX = ['--import', 'tsx'];

/** Runs `work` with these variables set in process.env, as a user's shell would set them. */
async function withEnv<T>(vars: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await work();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function readLog(file: string): { event: RotationInvocation; endpoint: string }[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { event: RotationInvocation; endpoint: string });
}

describe('startLocal', () => {
  const engine = fakeEngine();
  let dir: string;
  let stepScript: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-local-'));
    stepScript = writeStepScript(dir);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves both endpoints on loopback to SDK clients configured by its environment alone', async () => {
    const local = await startLocal({ engine, faults: { onCalls: { 1: 'throttling' } } });
    try {
      assert.match(local.secretsManagerUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(local.dataApiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(Object.keys(local.env).sort(), [
        'AWS_ACCESS_KEY_ID',
        'AWS_ENDPOINT_URL_RDS_DATA',
        'AWS_ENDPOINT_URL_SECRETS_MANAGER',
        'AWS_REGION',
        'AWS_SECRET_ACCESS_KEY',
      ]);
      await withEnv(local.env, async () => {
        const sm = new SecretsManagerClient({ maxAttempts: 1 });
        const data = new RDSDataClient({ maxAttempts: 1 });
        try {
          await sm.send(new CreateSecretCommand({ Name: 'env/secret', SecretString: 'x' }));
          assert.equal(
            (await sm.send(new GetSecretValueCommand({ SecretId: 'env/secret' }))).SecretString,
            'x',
          );
          const select = new ExecuteStatementCommand({ ...local.dataApiTarget, sql: 'SELECT 1 AS one' });
          await rejectsNamed(data.send(select), 'ThrottlingException');
          assert.deepEqual((await data.send(select)).records, [[{ longValue: 1 }]]);
        } finally {
          sm.destroy();
          data.destroy();
        }
      });
    } finally {
      await local.close();
    }
  });

  it('rotates with a process per step that reads the event on stdin, and retries a step that exits non-zero', async () => {
    const log = join(dir, 'steps.log');
    const local = await startLocal({
      engine,
      invoker: {
        command: process.execPath,
        args: [stepScript],
        env: { REKEY_TEST_STEP_LOG: log, REKEY_TEST_FAIL_ONCE: `setSecret:${join(dir, 'failed-once')}` },
        stdio: 'ignore',
      },
    });
    const client = new SecretsManagerClient({
      endpoint: local.secretsManagerUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const { ARN } = await client.send(
        new CreateSecretCommand({ Name: 'proc/key', SecretString: '{"k":"v1"}' }),
      );
      const { VersionId } = await client.send(
        new RotateSecretCommand({ SecretId: ARN, RotationLambdaARN: LAMBDA }),
      );
      await local.secretsManager.idle();

      const lines = readLog(log);
      assert.deepEqual(
        lines.map((l) => l.event.Step),
        ['createSecret', 'setSecret', 'createSecret', 'setSecret', 'testSecret', 'finishSecret'],
      );
      for (const line of lines) {
        assert.equal(line.event.SecretId, ARN);
        assert.equal(line.event.ClientRequestToken, VersionId);
        assert.equal(line.endpoint, local.secretsManagerUrl);
      }
      const stages =
        (await client.send(new DescribeSecretCommand({ SecretId: ARN }))).VersionIdsToStages ?? {};
      assert.deepEqual(stages[VersionId ?? ''], ['AWSPENDING', 'AWSCURRENT']);
      assert.match(
        local.secretsManager.events().find((e) => e.type === 'RotationStarted')?.secretName ?? '',
        /proc\/key/,
      );
    } finally {
      client.destroy();
      await local.close();
    }
  });

  it('finishes, in a new process, a rotation whose Secrets Manager process was killed mid-rotation', async () => {
    const stateFile = join(dir, 'crash-state.json');
    const log = join(dir, 'resume.log');
    const crashed = spawnSync(process.execPath, [...TSX, CRASH_PROCESS, stateFile], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(crashed.signal, 'SIGKILL', `the child should die in setSecret: ${crashed.stderr}`);

    const local = await startLocal({
      engine,
      stateFile,
      resumeInterrupted: true,
      invoker: {
        command: process.execPath,
        args: [stepScript],
        env: { REKEY_TEST_STEP_LOG: log },
        stdio: 'ignore',
      },
    });
    const client = new SecretsManagerClient({
      endpoint: local.secretsManagerUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      await local.secretsManager.idle();
      const lines = readLog(log);
      assert.deepEqual(
        lines.map((l) => l.event.Step),
        ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
      );
      assert.ok(lines.every((l) => l.event.ClientRequestToken === LOCAL_CRASH_TOKEN));
      const current = await client.send(new GetSecretValueCommand({ SecretId: LOCAL_CRASH_SECRET }));
      assert.equal(current.VersionId, LOCAL_CRASH_TOKEN);
      assert.equal(
        current.SecretString,
        '{"k":"from the crashed process"}',
        'the pending value written before the crash is kept',
      );
      assert.deepEqual(
        local.secretsManager.events().map((e) => `${e.type}#${e.attempt}`),
        ['RotationStarted#1', 'RotationStarted#2', 'RotationSucceeded#2'],
      );
    } finally {
      client.destroy();
      await local.close();
    }
  });
});
