import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { fakeClock } from '../support/fake-clock.js';
import { rekey } from './helpers.js';

const sm = mockClient(SecretsManagerClient);
const OLD = 'bbbbbbbb-0000-4000-8000-000000000001';
const NEW = 'bbbbbbbb-0000-4000-8000-000000000002';

const before: DescribeSecretResponse = {
  RotationEnabled: true,
  VersionIdsToStages: { [OLD]: ['AWSCURRENT'] },
};
const pending: DescribeSecretResponse = {
  RotationEnabled: true,
  VersionIdsToStages: { [OLD]: ['AWSCURRENT'], [NEW]: ['AWSPENDING'] },
};
const promoted: DescribeSecretResponse = {
  RotationEnabled: true,
  VersionIdsToStages: { [OLD]: ['AWSPREVIOUS'], [NEW]: ['AWSCURRENT'] },
};

/** DescribeSecret answers in order: the pre-check, then one per poll; the last one repeats. */
function describeSequence(...answers: DescribeSecretResponse[]) {
  const stub = sm.on(DescribeSecretCommand);
  for (const a of answers.slice(0, -1)) stub.resolvesOnce(a);
  stub.resolves(answers[answers.length - 1] as DescribeSecretResponse);
}

describe('rekey rotate-now', () => {
  beforeEach(() => {
    sm.reset();
    sm.on(RotateSecretCommand).resolves({ VersionId: NEW });
  });

  it('starts an immediate rotation with a fresh token and returns without waiting', async () => {
    describeSequence(before);
    const r = await rekey(['rotate-now', '--secret-id', 'app']);
    assert.equal(r.code, 0, r.stderr);
    const [call] = sm.commandCalls(RotateSecretCommand);
    assert.equal(call?.args[0].input.RotateImmediately, true);
    assert.match(call?.args[0].input.ClientRequestToken ?? '', /^[0-9a-f-]{36}$/);
    assert.match(r.stdout, new RegExp(`rotation started: version ${NEW} of app`));
    assert.equal(sm.commandCalls(DescribeSecretCommand).length, 1);
  });

  it('refuses with exit 4 when rotation is not enabled, and does not start one', async () => {
    describeSequence({ ...before, RotationEnabled: false });
    const r = await rekey(['rotate-now', '--secret-id', 'app']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: RotationStateError: rotation is not enabled for secret app/);
    assert.equal(sm.commandCalls(RotateSecretCommand).length, 0);
  });

  it('refuses with exit 4 while another rotation is pending, pointing to resume and abort', async () => {
    describeSequence({
      RotationEnabled: true,
      VersionIdsToStages: { [OLD]: ['AWSCURRENT'], other: ['AWSPENDING'] },
    });
    const r = await rekey(['rotate-now', '--secret-id', 'app']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /already pending .*version other.*rekey resume.*rekey abort/);
    assert.equal(sm.commandCalls(RotateSecretCommand).length, 0);
  });

  it('with --wait, prints each transition and a final line when the new version becomes current', async () => {
    describeSequence(before, before, pending, pending, promoted);
    const clock = fakeClock();
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait', '--poll', '2'], { clock });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /\[\s*0s\] rotation started/);
    assert.match(lines[1] ?? '', /\[\s*2s\] pending value created: version .* is AWSPENDING/);
    assert.match(lines[2] ?? '', /\[\s*6s\] promoted: version .* is AWSCURRENT/);
    assert.match(lines[3] ?? '', /^rotation finished in 6s: version .* is AWSCURRENT$/);
    assert.deepEqual(clock.slept, [2000, 2000, 2000]);
  });

  it('with --wait, fails with exit 1 when AWSPENDING is removed without promotion', async () => {
    describeSequence(before, pending, before);
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: RotationFailedError: rotation failed: AWSPENDING was removed from version/,
    );
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  });

  it('with --wait, fails with exit 1 when AWSCURRENT moves to some other version', async () => {
    describeSequence(before, pending, {
      RotationEnabled: true,
      VersionIdsToStages: { manual: ['AWSCURRENT'] },
    });
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /AWSCURRENT moved to version manual/);
  });

  it('with --wait, gives up with exit 3 at the timeout without sleeping real time', async () => {
    describeSequence(before, pending);
    const clock = fakeClock();
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait', '--timeout', '30', '--poll', '10'], {
      clock,
    });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /WaitTimeoutError: gave up waiting after 30s: version .* is still AWSPENDING/);
    assert.equal(
      clock.slept.reduce((a, b) => a + b, 0),
      30_000,
    );
  });

  it("with --wait, says on giving up where the failed step and its error are: the function's log group, and what status shows", async () => {
    const lambda = {
      RotationLambdaARN: 'arn:aws:lambda:eu-west-1:123456789012:function:prod-rekey-rotation',
    };
    describeSequence({ ...before, ...lambda }, { ...pending, ...lambda });
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait', '--timeout', '10'], {
      clock: fakeClock(),
    });
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /in the rotation function's log \(CloudWatch Logs group \/aws\/lambda\/prod-rekey-rotation, 'step failed' lines; CloudTrail records RotationFailed events\)/,
    );
    assert.match(
      r.stderr,
      /`rekey status` shows the version AWSPENDING and since when, and health 'failing'/,
    );
  });

  it('with --wait, says where the log is when AWSPENDING is removed without promotion', async () => {
    const lambda = { RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation' };
    describeSequence(before, pending, { ...before, ...lambda });
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /CloudWatch Logs group \/aws\/lambda\/rekey-rotation/);
  });

  it('with --wait, names the step and the error that a failure tag of `rekey local` records, and exits 1', async () => {
    describeSequence(before, pending, {
      ...pending,
      Tags: [
        {
          Key: 'rekey-local:rotation-failed',
          Value: `${NEW} testSecret 3 VerificationError: 2 values under no staged key`,
        },
      ],
    });
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: RotationFailedError: rotation failed in testSecret \(attempt 3, as `rekey local` recorded it\): VerificationError: 2 values under no staged key\./,
    );
  });

  it('with --wait, ignores a failure tag about another version', async () => {
    describeSequence(before, pending, {
      ...promoted,
      Tags: [{ Key: 'rekey-local:rotation-failed', Value: `${OLD} setSecret 3 Error: old` }],
    });
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('with --json, prints the outcome and the events as one document', async () => {
    describeSequence(before, pending, promoted);
    const r = await rekey(['rotate-now', '--secret-id', 'app', '--wait', '--json']);
    assert.equal(r.code, 0);
    const report = JSON.parse(r.stdout);
    assert.equal(report.outcome, 'promoted');
    assert.equal(report.versionId, NEW);
    assert.deepEqual(
      report.events.map((e: { event: string }) => e.event),
      ['started', 'pending', 'promoted'],
    );
  });

  it('never reads the secret value without --config', async () => {
    describeSequence(before, pending, promoted);
    await rekey(['rotate-now', '--secret-id', 'app', '--wait']);
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 0);
  });
});
