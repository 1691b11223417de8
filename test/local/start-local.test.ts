import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
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
import { localDataClient, localSecretsManagerClient } from '../support/local-clients.js';
import { LOCAL_CRASH_SECRET, LOCAL_CRASH_TOKEN } from '../support/local-crash-process.js';
import { rejectsNamed } from '../support/local-data-api-suite.js';
import { fakeEngine } from '../support/local-fake-engine.js';
import {
  LOCAL_HANG_PENDING,
  LOCAL_HANG_READY,
  LOCAL_HANG_SECRET,
  LOCAL_HANG_TOKEN,
} from '../support/local-hanging-process.js';
import { wellBehavedRotation } from '../support/local-rotation.js';
import { writeStepScript } from '../support/local-step-script.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
const CRASH_PROCESS = fileURLToPath(new URL('../support/local-crash-process.ts', import.meta.url));
const HANGING_PROCESS = fileURLToPath(new URL('../support/local-hanging-process.ts', import.meta.url));
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

/** The rotation events a state file holds. */
function savedEvents(stateFile: string): string[] {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { events: { type: string }[] };
  return state.events.map((e) => e.type);
}

/** Runs the hanging `rekey local` stand-in until its rotation hangs in setSecret, then kills it. */
async function killMidRotation(stateFile: string): Promise<NodeJS.Signals | null> {
  const child = spawn(process.execPath, [...TSX, HANGING_PROCESS, stateFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (line === LOCAL_HANG_READY) break;
    }
  } finally {
    child.kill('SIGKILL');
  }
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  return signal;
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
        'AWS_DEFAULT_REGION',
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

  it('resumes, once its rotation function is set, a rotation whose process was killed in setSecret', {
    timeout: 60_000,
  }, async () => {
    const stateFile = join(dir, 'killed-state.json');
    assert.equal(await killMidRotation(stateFile), 'SIGKILL');
    assert.deepEqual(savedEvents(stateFile), ['RotationStarted']);

    // As `rekey local --state FILE --config ...` starts: the rotation function comes after the endpoints.
    const local = await startLocal({ engine, stateFile, resumeInterrupted: true });
    const client = localSecretsManagerClient(local.secretsManagerUrl);
    try {
      await local.secretsManager.idle();
      assert.deepEqual(
        local.secretsManager.events().map((e) => e.type),
        ['RotationStarted'],
        'no rotation function yet: the rotation waits instead of failing',
      );
      local.secretsManager.setInvoker(wellBehavedRotation(client));
      await local.secretsManager.idle();

      const current = await client.send(new GetSecretValueCommand({ SecretId: LOCAL_HANG_SECRET }));
      assert.equal(current.VersionId, LOCAL_HANG_TOKEN, 'AWSCURRENT moved to the interrupted token');
      assert.equal(current.SecretString, LOCAL_HANG_PENDING, 'the value the killed process wrote is kept');
      const described = await client.send(new DescribeSecretCommand({ SecretId: LOCAL_HANG_SECRET }));
      assert.ok(described.LastRotatedDate, 'LastRotatedDate is set');
      assert.deepEqual(
        local.secretsManager.events().map((e) => `${e.type}#${e.attempt}`),
        ['RotationStarted#1', 'RotationStarted#2', 'RotationSucceeded#2'],
      );
      assert.deepEqual(savedEvents(stateFile), ['RotationStarted', 'RotationStarted', 'RotationSucceeded']);
    } finally {
      client.destroy();
      await local.close();
    }
  });

  it('keeps the embedded database in pgliteDataDir, beside the state file, across a restart', {
    timeout: 60_000,
  }, async () => {
    const stateFile = join(dir, 'persist', 'state.json');
    const pgliteDataDir = join(dir, 'persist', 'pgdata');
    const start = () => startLocal({ stateFile, pgliteDataDir });

    const first = await start();
    const data1 = localDataClient(first.dataApiUrl);
    const sm1 = localSecretsManagerClient(first.secretsManagerUrl);
    try {
      const run = (sql: string) => data1.send(new ExecuteStatementCommand({ ...first.dataApiTarget, sql }));
      await run('CREATE TABLE kept (id int PRIMARY KEY, v text)');
      await run("INSERT INTO kept VALUES (1, 'written before the restart')");
      await sm1.send(new CreateSecretCommand({ Name: 'persist/key', SecretString: 'kept too' }));
    } finally {
      data1.destroy();
      sm1.destroy();
      await first.close();
    }
    assert.ok(existsSync(join(pgliteDataDir, 'PG_VERSION')), 'PGlite wrote its files there');

    const second = await start();
    const data2 = localDataClient(second.dataApiUrl);
    const sm2 = localSecretsManagerClient(second.secretsManagerUrl);
    try {
      const out = await data2.send(
        new ExecuteStatementCommand({ ...second.dataApiTarget, sql: 'SELECT v FROM kept WHERE id = 1' }),
      );
      assert.deepEqual(out.records, [[{ stringValue: 'written before the restart' }]]);
      const secret = await sm2.send(new GetSecretValueCommand({ SecretId: 'persist/key' }));
      assert.equal(secret.SecretString, 'kept too');
    } finally {
      data2.destroy();
      sm2.destroy();
      await second.close();
    }
  });

  it('refuses pgliteDataDir with an engine other than the embedded one', async () => {
    await assert.rejects(startLocal({ engine, pgliteDataDir: join(dir, 'unused') }), {
      name: 'RangeError',
      message: /pgliteDataDir needs the embedded 'pglite' engine/,
    });
    assert.equal(existsSync(join(dir, 'unused')), false);
  });
});
