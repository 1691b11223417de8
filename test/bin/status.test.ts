import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, it } from 'node:test';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { fakeClock } from '../support/fake-clock.js';
import { rk1Config, SECRET_ARN } from '../support/fixtures.js';
import { rekey } from './helpers.js';

const sm = mockClient(SecretsManagerClient);
const NOW = Date.parse('2025-03-10T12:00:00Z');
const CURRENT = 'aaaaaaaa-0000-4000-8000-000000000001';
const PREVIOUS = 'aaaaaaaa-0000-4000-8000-000000000002';
const PENDING = 'aaaaaaaa-0000-4000-8000-000000000003';
const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

function describeHealthy(overrides: Record<string, unknown> = {}) {
  sm.on(DescribeSecretCommand).resolves({
    ARN: SECRET_ARN,
    Name: 'app',
    RotationEnabled: true,
    RotationLambdaARN: LAMBDA,
    RotationRules: { AutomaticallyAfterDays: 30, Duration: '3h' },
    LastRotatedDate: new Date('2025-03-01T04:00:00Z'),
    NextRotationDate: new Date('2025-03-31T04:00:00Z'),
    VersionIdsToStages: { [CURRENT]: ['AWSCURRENT'], [PREVIOUS]: ['AWSPREVIOUS'] },
    ...overrides,
  });
}

function listVersions(extra: { VersionId: string; VersionStages?: string[]; CreatedDate: Date }[] = []) {
  sm.on(ListSecretVersionIdsCommand).resolves({
    Versions: [
      { VersionId: PREVIOUS, VersionStages: ['AWSPREVIOUS'], CreatedDate: new Date('2025-01-30T04:00:00Z') },
      {
        VersionId: CURRENT,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: new Date('2025-03-01T04:00:00Z'),
        LastAccessedDate: new Date('2025-03-10T00:00:00Z'),
      },
      ...extra,
    ],
  });
}

describe('rekey status', () => {
  beforeEach(() => sm.reset());

  it('shows the schedule, the last and next rotation and every version without reading a secret value', async () => {
    describeHealthy();
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotation\s+enabled, by arn:aws:lambda/);
    assert.match(r.stdout, /schedule\s+every 30 days, window 3h/);
    assert.match(r.stdout, /last\s+2025-03-01T04:00:00Z \(9d ago\)/);
    assert.match(r.stdout, /next\s+2025-03-31T04:00:00Z \(in 21d\)/);
    assert.match(r.stdout, /state\s+ok/);
    assert.match(r.stdout, new RegExp(`${CURRENT}\\s+AWSCURRENT\\s+2025-03-01T04:00:00Z\\s+2025-03-10`));
    assert.match(r.stdout, new RegExp(`${PREVIOUS}\\s+AWSPREVIOUS`));
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 0);
  });

  it('lists deprecated versions too, across pages', async () => {
    describeHealthy();
    sm.on(ListSecretVersionIdsCommand, { NextToken: undefined }).resolves({
      Versions: [
        { VersionId: CURRENT, VersionStages: ['AWSCURRENT'], CreatedDate: new Date('2025-03-01T04:00:00Z') },
      ],
      NextToken: 'page-2',
    });
    sm.on(ListSecretVersionIdsCommand, { NextToken: 'page-2' }).resolves({
      Versions: [
        { VersionId: 'old-version', VersionStages: [], CreatedDate: new Date('2024-12-01T04:00:00Z') },
      ],
    });
    const r = await rekey(['status', '--secret-id', 'app'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /old-version\s+\(deprecated\)/);
    const calls = sm.commandCalls(ListSecretVersionIdsCommand);
    assert.equal(calls.length, 2);
    assert.ok(calls.every((c) => c.args[0].input.IncludeDeprecated === true));
  });

  it('says rotation is failing when the next rotation date is in the past', async () => {
    describeHealthy({ NextRotationDate: new Date('2025-03-08T04:00:00Z') });
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /state\s+FAILING: the next rotation date passed 2d ago/);
  });

  it('shows a pending rotation with the time it started and how to resume or abort it', async () => {
    describeHealthy({
      VersionIdsToStages: {
        [CURRENT]: ['AWSCURRENT'],
        [PREVIOUS]: ['AWSPREVIOUS'],
        [PENDING]: ['AWSPENDING'],
      },
    });
    listVersions([
      { VersionId: PENDING, VersionStages: ['AWSPENDING'], CreatedDate: new Date('2025-03-10T09:00:00Z') },
    ]);
    const r = await rekey(['status', '--secret-id', 'app'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /state\s+a rotation is pending/);
    assert.match(
      r.stdout,
      new RegExp(`version ${PENDING} is AWSPENDING since 2025-03-10T09:00:00Z \\(3h ago\\)`),
    );
    assert.match(r.stdout, /rekey resume/);
    assert.match(r.stdout, /rekey abort/);
  });

  it('does not report a rotation as pending when AWSPENDING sits on the current version', async () => {
    describeHealthy({ VersionIdsToStages: { [CURRENT]: ['AWSCURRENT', 'AWSPENDING'] } });
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app', '--json'], { clock: fakeClock(NOW) });
    const report = JSON.parse(r.stdout);
    assert.equal(report.pending, undefined);
    assert.equal(report.health, 'ok');
  });

  it('prints one JSON document with the health, dates and versions for scripts', async () => {
    describeHealthy({ RotationRules: { ScheduleExpression: 'cron(0 4 ? * SUN *)', Duration: '2h' } });
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app', '--json'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0);
    const report = JSON.parse(r.stdout);
    assert.equal(report.health, 'ok');
    assert.equal(report.rotation.scheduleExpression, 'cron(0 4 ? * SUN *)');
    assert.equal(report.rotation.nextRotation, '2025-03-31T04:00:00.000Z');
    assert.deepEqual(
      report.versions.map((v: { versionId: string }) => v.versionId),
      [CURRENT, PREVIOUS],
    );
  });

  it('reports a secret without rotation as not configured', async () => {
    describeHealthy({ RotationEnabled: false, RotationLambdaARN: undefined, RotationRules: undefined });
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app', '--json'], { clock: fakeClock(NOW) });
    assert.equal(JSON.parse(r.stdout).health, 'not-configured');
  });

  it('prints an AWS error as one line with its name and exits 1', async () => {
    sm.on(DescribeSecretCommand).rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
    );
    const r = await rekey(['status', '--secret-id', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "error: ResourceNotFoundException: Secrets Manager can't find the specified secret.\n",
    );
    assert.equal(r.stdout, '');
  });

  it("takes the secret id from --config's secretId when --secret-id is absent", async () => {
    describeHealthy();
    listVersions();
    const path = join(await mkdtemp(join(tmpdir(), 'rekey-cli-')), 'rekey.json');
    await writeFile(path, JSON.stringify(rk1Config({ secretId: 'from/config' })));
    const r = await rekey(['status', '--config', path], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sm.commandCalls(DescribeSecretCommand)[0]?.args[0].input.SecretId, 'from/config');
    assert.equal(sm.commandCalls(ListSecretVersionIdsCommand)[0]?.args[0].input.SecretId, 'from/config');
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 0);
  });

  it('prefers --secret-id to the config file', async () => {
    describeHealthy();
    listVersions();
    const path = join(await mkdtemp(join(tmpdir(), 'rekey-cli-')), 'rekey.json');
    await writeFile(path, JSON.stringify(rk1Config({ secretId: 'from/config' })));
    await rekey(['status', '--config', path, '--secret-id', 'from/flag'], { clock: fakeClock(NOW) });
    assert.equal(sm.commandCalls(DescribeSecretCommand)[0]?.args[0].input.SecretId, 'from/flag');
  });

  it('prints the JSON report with --output json, as with --json', async () => {
    describeHealthy();
    listVersions();
    const r = await rekey(['status', '--secret-id', 'app', '--output', 'json'], { clock: fakeClock(NOW) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).health, 'ok');
  });

  it('adds the stack to the error only when REKEY_DEBUG=1', async () => {
    sm.on(DescribeSecretCommand).rejects(new TypeError('boom'));
    const quiet = await rekey(['status', '--secret-id', 'app']);
    assert.equal(quiet.stderr, 'error: TypeError: boom\n');
    process.env.REKEY_DEBUG = '1';
    try {
      const loud = await rekey(['status', '--secret-id', 'app']);
      assert.match(loud.stderr, /^error: TypeError: boom\nTypeError: boom\n\s+at /);
    } finally {
      delete process.env.REKEY_DEBUG;
    }
  });
});
