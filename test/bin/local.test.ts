import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ENABLE_ROTATION_COMMAND } from '../../bin/cli/local.js';
import { RK1_SECRET_A } from '../support/fixtures.js';
import { rekey } from './helpers.js';
import { rk1World, type World } from './world.js';

describe('rekey local', () => {
  it('starts both endpoints, prints the variables to export, and stops with --check', async () => {
    const r = await rekey(['local', '--check']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^export AWS_ENDPOINT_URL_SECRETS_MANAGER=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /^export AWS_ENDPOINT_URL_RDS_DATA=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /--resource-arn arn:aws:rds:/);
  });

  it('prints AWS_DEFAULT_REGION beside AWS_REGION, for the AWS CLI', async () => {
    const r = await rekey(['local', '--check']);
    assert.match(r.stdout, /^export AWS_REGION=us-east-1\nexport AWS_DEFAULT_REGION=us-east-1$/m);
  });

  it('prints the one command that switches rotation on for a secret', async () => {
    const r = await rekey(['local', '--check']);
    assert.ok(r.stdout.includes(`#   ${ENABLE_ROTATION_COMMAND}\n`), r.stdout);
    assert.match(
      ENABLE_ROTATION_COMMAND,
      /^aws secretsmanager rotate-secret --secret-id ID --rotation-lambda-arn arn:aws:lambda:\S+ /,
    );
  });

  it('prints the environment and that command as JSON with --output json', async () => {
    const r = await rekey(['local', '--check', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.env.AWS_DEFAULT_REGION, 'us-east-1');
    assert.match(report.env.AWS_ENDPOINT_URL_SECRETS_MANAGER, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(report.enableRotation, ENABLE_ROTATION_COMMAND);
  });

  it('refuses --data-dir with --engine: the directory keeps the embedded PostgreSQL only', async () => {
    const r = await rekey(['local', '--check', '--data-dir', '/tmp/x', '--engine', 'postgres://h/db']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--data-dir keeps the embedded PostgreSQL/);
  });

  it('refuses an engine that is not a postgres or mysql URL', async () => {
    const r = await rekey(['local', '--check', '--engine', 'sqlite://x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /must be a postgres:\/\/ or mysql:\/\/ URL/);
  });
});

describe('the printed command that switches rotation on', () => {
  let w: World;
  afterEach(() => w.close());

  it('turns rotation on without rotating, after which rotate-now no longer refuses', async () => {
    w = await rk1World();
    await w.put(RK1_SECRET_A, ['AWSCURRENT']);
    const arn = /--rotation-lambda-arn (\S+)/.exec(ENABLE_ROTATION_COMMAND)?.[1];
    const days = Number(/AutomaticallyAfterDays=(\d+)/.exec(ENABLE_ROTATION_COMMAND)?.[1]);
    assert.match(ENABLE_ROTATION_COMMAND, /--no-rotate-immediately/);
    // What the AWS CLI sends for that command line.
    w.local.secretsManager.setInvoker(async () => {});
    await w.call('RotateSecret', {
      SecretId: w.secretId,
      RotationLambdaARN: arn,
      RotationRules: { AutomaticallyAfterDays: days },
      RotateImmediately: false,
    });
    await w.local.secretsManager.idle();
    const status = JSON.parse((await rekey(['status', '--secret-id', w.secretId, '--json'])).stdout);
    assert.equal(status.rotation.enabled, true);
    assert.equal(status.rotation.lambdaArn, arn);
    assert.equal(status.rotation.automaticallyAfterDays, 30);
    assert.equal(status.pending, undefined);
    const started = await rekey(['rotate-now', '--secret-id', w.secretId]);
    assert.equal(started.code, 0, started.stderr);
    await w.local.secretsManager.idle();
  });
});
