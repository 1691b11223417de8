import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  LocalSecretsManager,
  ROTATION_STEPS,
  type RotationInvoker,
  type RunningSecretsManager,
  type SecretsManagerOptions,
  startSecretsManager,
} from '../../local/index.js';
import { localSecretsManagerClient, manualClock, recordingSleep } from '../support/local-clients.js';
import { gate, recordingInvoker, wellBehavedRotation } from '../support/local-rotation.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
const FIRST = '11111111-1111-4111-8111-111111111111';
const TOKEN = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const OTHER = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const THIRD = 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee';
const DAY = 86_400_000;

describe('local Secrets Manager rotation', () => {
  const clock = manualClock(Date.UTC(2025, 5, 1, 9, 0));
  let sm: RunningSecretsManager;
  let client: SecretsManagerClient;
  let arn: string;

  const start = async (invoker: RotationInvoker, options: SecretsManagerOptions = {}) => {
    sm = await startSecretsManager({ clock, invoker, ...options });
    client = localSecretsManagerClient(sm.url);
    const created = await client.send(
      new CreateSecretCommand({
        Name: 'app/key',
        SecretString: '{"k":"original"}',
        ClientRequestToken: FIRST,
      }),
    );
    arn = created.ARN ?? '';
  };
  const rotate = (token = TOKEN, extra: Partial<ConstructorParameters<typeof RotateSecretCommand>[0]> = {}) =>
    client.send(
      new RotateSecretCommand({
        SecretId: arn,
        ClientRequestToken: token,
        RotationLambdaARN: LAMBDA,
        RotationRules: { AutomaticallyAfterDays: 30 },
        ...extra,
      }),
    );
  const stages = async () =>
    (await client.send(new DescribeSecretCommand({ SecretId: arn }))).VersionIdsToStages ?? {};
  const eventTypes = () =>
    sm.secretsManager.events().map((e) => `${e.type}${e.attempt ? `#${e.attempt}` : ''}`);

  afterEach(async () => {
    await sm.secretsManager.idle();
    client.destroy();
    await sm.close();
  });

  it('registers the token as an empty AWSPENDING version, returns at once, then runs the four steps in order', async () => {
    const held = gate();
    let real: RotationInvoker = async () => {};
    const invoker = recordingInvoker(async (event, index) => {
      if (index === 0) {
        held.arrive();
        await held.wait;
      }
      await real(event);
    });
    await start(invoker);
    real = wellBehavedRotation(client);

    const out = await rotate();
    assert.equal(out.VersionId, TOKEN);
    await held.reached;
    assert.deepEqual(await stages(), { [FIRST]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: TOKEN })), {
      name: 'ResourceNotFoundException',
      message: `Secrets Manager can't find the specified secret value for VersionId: ${TOKEN}`,
    });
    held.open();
    await sm.secretsManager.idle();

    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
    );
    const rotationToken = invoker.calls[0]?.RotationToken;
    assert.ok(rotationToken && rotationToken.length >= 16, 'an opaque RotationToken');
    for (const call of invoker.calls) {
      assert.deepEqual(call, {
        Step: call.Step,
        SecretId: arn,
        ClientRequestToken: TOKEN,
        RotationToken: rotationToken,
      });
    }
    assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.equal(described.RotationEnabled, true);
    assert.equal(described.RotationLambdaARN, LAMBDA);
    assert.deepEqual(described.RotationRules, { AutomaticallyAfterDays: 30 });
    assert.deepEqual(described.LastRotatedDate, new Date(clock.now()));
    assert.deepEqual(described.NextRotationDate, new Date(clock.now() + 30 * DAY));
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationSucceeded#1']);
    const value = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    assert.equal(value.SecretString, '{"k":"rotated"}');
  });

  it('retries a failed rotation from createSecret with the same token and RotationToken', async () => {
    const sleep = recordingSleep();
    let good: RotationInvoker = async () => {};
    let failedOnce = false;
    const invoker = recordingInvoker(async (event) => {
      if (event.Step === 'setSecret' && !failedOnce) {
        failedOnce = true;
        throw new Error('database unreachable');
      }
      await good(event);
    });
    await start(invoker, { retryDelayMs: 5_000, sleep });
    good = wellBehavedRotation(client);
    await rotate();
    await sm.secretsManager.idle();

    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['createSecret', 'setSecret', 'createSecret', 'setSecret', 'testSecret', 'finishSecret'],
    );
    assert.equal(new Set(invoker.calls.map((c) => `${c.ClientRequestToken}/${c.RotationToken}`)).size, 1);
    assert.deepEqual(sleep.slept, [5_000]);
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationStarted#2', 'RotationSucceeded#2']);
  });

  it('records RotationFailed after the configured attempts, keeps AWSPENDING, and reattempts on the next RotateSecret', async () => {
    let broken = true;
    let good: RotationInvoker = async () => {};
    const invoker = recordingInvoker(async (event) => {
      if (event.Step === 'testSecret' && broken) throw new Error('pending key does not decrypt row 42');
      await good(event);
    });
    await start(invoker, { rotationAttempts: 2 });
    good = wellBehavedRotation(client);
    await rotate();
    await sm.secretsManager.idle();

    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationStarted#2', 'RotationFailed#2']);
    const failed = sm.secretsManager.events().at(-1);
    assert.equal(failed?.step, 'testSecret');
    assert.deepEqual(failed?.error, { name: 'Error', message: 'pending key does not decrypt row 42' });
    assert.deepEqual(await stages(), { [FIRST]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });

    broken = false;
    await assert.rejects(rotate(OTHER), {
      name: 'InvalidRequestException',
      message: "A previous rotation isn't complete. That rotation will be reattempted.",
    });
    await sm.secretsManager.idle();
    assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
    assert.ok(
      invoker.calls.every((c) => c.ClientRequestToken === TOKEN),
      'the reattempt keeps the first token',
    );
    assert.equal(eventTypes().at(-1), 'RotationSucceeded#1');
  });

  it('abandons a rotation when a value is written without VersionStages meanwhile', async () => {
    const held = gate();
    let good: RotationInvoker = async () => {};
    const invoker = recordingInvoker(async (event) => {
      await good(event);
      if (event.Step === 'setSecret') {
        held.arrive();
        await held.wait;
      }
    });
    await start(invoker);
    good = wellBehavedRotation(client);
    await rotate();
    await held.reached;

    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: '{"k":"manual"}', ClientRequestToken: OTHER }),
    );
    held.open();
    await sm.secretsManager.idle();

    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['createSecret', 'setSecret'],
    );
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationAbandoned']);
    assert.equal(sm.secretsManager.events().at(-1)?.versionId, TOKEN);
    assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [OTHER]: ['AWSCURRENT'] });
  });

  it('answers a repeated RotateSecret with the running token without starting another rotation', async () => {
    const held = gate();
    const invoker = recordingInvoker(async (event, index) => {
      if (index === 0) {
        held.arrive();
        await held.wait;
      }
      await wellBehavedRotation(client)(event);
    });
    await start(invoker);
    await rotate();
    await held.reached;
    const again = await rotate();
    assert.equal(again.VersionId, TOKEN);
    held.open();
    await sm.secretsManager.idle();
    assert.equal(invoker.calls.length, 4);
  });

  it('runs only testSecret on a temporary copy of the current value when RotateImmediately is false', async () => {
    const seen: (string | undefined)[] = [];
    const invoker = recordingInvoker(async (event) => {
      const pending = await client.send(
        new GetSecretValueCommand({
          SecretId: arn,
          VersionId: event.ClientRequestToken,
          VersionStage: 'AWSPENDING',
        }),
      );
      seen.push(pending.SecretString);
    });
    await start(invoker);
    await rotate(TOKEN, { RotateImmediately: false, RotationRules: { ScheduleExpression: 'rate(10 days)' } });
    await sm.secretsManager.idle();

    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['testSecret'],
    );
    assert.deepEqual(seen, ['{"k":"original"}']);
    const versions = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    assert.deepEqual(
      versions.Versions?.map((v) => v.VersionId),
      [FIRST],
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.equal(described.RotationEnabled, true);
    assert.equal(described.LastRotatedDate, undefined);
    assert.deepEqual(described.NextRotationDate, new Date(clock.now() + 10 * DAY));
    assert.deepEqual(eventTypes(), []);
  });

  it('stops a rotation cancelled with CancelRotateSecret and leaves its AWSPENDING version', async () => {
    const held = gate();
    const invoker = recordingInvoker(async (event) => {
      await wellBehavedRotation(client)(event);
      if (event.Step === 'createSecret') {
        held.arrive();
        await held.wait;
      }
    });
    await start(invoker);
    await rotate();
    await held.reached;
    const cancelled = await client.send(new CancelRotateSecretCommand({ SecretId: arn }));
    assert.equal(cancelled.VersionId, TOKEN);
    held.open();
    await sm.secretsManager.idle();

    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['createSecret'],
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.equal(described.RotationEnabled, false);
    assert.equal(described.NextRotationDate, undefined);
    assert.deepEqual(described.VersionIdsToStages, { [FIRST]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });
  });

  it('fails a rotation whose finishSecret leaves the new version short of AWSCURRENT', async () => {
    await start(
      recordingInvoker(async () => {}),
      { rotationAttempts: 1 },
    );
    await rotate();
    await sm.secretsManager.idle();
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationFailed#1']);
    assert.match(sm.secretsManager.events().at(-1)?.error?.message ?? '', /is not AWSCURRENT/);
  });

  it('starts scheduled rotations when they fall due by the clock', async () => {
    const invoker = recordingInvoker(async (event) => wellBehavedRotation(client)(event));
    await start(invoker);
    await rotate(TOKEN, { RotateImmediately: false, RotationRules: { AutomaticallyAfterDays: 1 } });
    await sm.secretsManager.idle();
    assert.deepEqual(sm.secretsManager.runDueRotations(), []);
    clock.advance(DAY);
    assert.deepEqual(sm.secretsManager.runDueRotations(), [arn]);
    await sm.secretsManager.idle();
    assert.deepEqual(
      invoker.calls.map((c) => c.Step),
      ['testSecret', 'createSecret', 'setSecret', 'testSecret', 'finishSecret'],
    );
    assert.equal(eventTypes().at(-1), 'RotationSucceeded#1');
  });

  it('resumes a rotation that a stopped instance left running, from its state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-rotation-'));
    try {
      const stateFile = join(dir, 'state.json');
      const stuck = gate();
      const first = recordingInvoker(async (event) => {
        await wellBehavedRotation(client)(event);
        if (event.Step === 'setSecret') {
          stuck.arrive();
          await stuck.wait;
        }
      });
      await start(first, { stateFile });
      await rotate();
      await stuck.reached;
      client.destroy();
      await sm.close();

      const second = recordingInvoker(async (event) => wellBehavedRotation(client)(event));
      sm = await startSecretsManager({ clock, invoker: second, stateFile });
      client = localSecretsManagerClient(sm.url);
      assert.deepEqual(sm.secretsManager.resumeInterrupted(), [arn]);
      await sm.secretsManager.idle();
      assert.deepEqual(
        second.calls.map((c) => c.Step),
        ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
      );
      assert.equal(second.calls[0]?.ClientRequestToken, TOKEN);
      assert.equal(second.calls[0]?.RotationToken, first.calls[0]?.RotationToken);
      assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
      stuck.open();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Starts an instance on `stateFile`, rotates, and stops it while setSecret hangs: a killed `rekey local`. */
  const interruptInSetSecret = async (stateFile: string): Promise<() => void> => {
    const stuck = gate();
    const first = recordingInvoker(async (event) => {
      await wellBehavedRotation(client)(event);
      if (event.Step === 'setSecret') {
        stuck.arrive();
        await stuck.wait;
      }
    });
    await start(first, { stateFile });
    await rotate();
    await stuck.reached;
    client.destroy();
    await sm.close();
    return stuck.open;
  };
  /** The steps as `rekey resume` runs them: in its own process, promoting with UpdateSecretVersionStage. */
  const resumeOutside = async (token = TOKEN) => {
    const steps = wellBehavedRotation(client);
    for (const Step of ROTATION_STEPS) await steps({ Step, SecretId: arn, ClientRequestToken: token });
  };

  it('waits for a rotation function before resuming an interrupted rotation, then finishes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-rotation-'));
    try {
      const stateFile = join(dir, 'state.json');
      const release = await interruptInSetSecret(stateFile);

      sm = await startSecretsManager({ clock, stateFile, resumeInterrupted: true });
      client = localSecretsManagerClient(sm.url);
      await sm.secretsManager.idle();
      assert.deepEqual(eventTypes(), ['RotationStarted#1'], 'no RotationFailed for want of a function');
      assert.deepEqual(await stages(), { [FIRST]: ['AWSCURRENT'], [TOKEN]: ['AWSPENDING'] });

      clock.advance(DAY);
      const second = recordingInvoker(async (event) => wellBehavedRotation(client)(event));
      sm.secretsManager.setInvoker(second);
      await sm.secretsManager.idle();
      assert.deepEqual(
        second.calls.map((c) => c.Step),
        ['createSecret', 'setSecret', 'testSecret', 'finishSecret'],
      );
      assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
      assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationStarted#2', 'RotationSucceeded#2']);
      const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
      assert.deepEqual(described.LastRotatedDate, new Date(clock.now()));
      release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('saves RotationSucceeded, RotationFailed and RotationAbandoned in the state file as they happen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-rotation-'));
    try {
      const stateFile = join(dir, 'state.json');
      const saved = () =>
        (JSON.parse(readFileSync(stateFile, 'utf8')) as { events: { type: string }[] }).events.map(
          (e) => e.type,
        );
      let failSetSecret = true;
      await start(
        recordingInvoker(async (event) => {
          if (failSetSecret && event.Step === 'setSecret') throw new Error('database unreachable');
          await wellBehavedRotation(client)(event);
        }),
        { stateFile, rotationAttempts: 1 },
      );
      const inFileWhenHeard: string[] = [];
      sm.secretsManager.onEvent((event) => inFileWhenHeard.push(`${event.type}:${saved().at(-1)}`));

      await rotate();
      await sm.secretsManager.idle();
      await client.send(
        new PutSecretValueCommand({
          SecretId: arn,
          SecretString: '{"k":"manual"}',
          ClientRequestToken: OTHER,
        }),
      );
      failSetSecret = false;
      await rotate(THIRD);
      await sm.secretsManager.idle();

      const expected = [
        'RotationStarted',
        'RotationFailed',
        'RotationAbandoned',
        'RotationStarted',
        'RotationSucceeded',
      ];
      assert.deepEqual(
        inFileWhenHeard,
        expected.map((type) => `${type}:${type}`),
      );
      assert.deepEqual(
        new LocalSecretsManager({ stateFile }).events().map((e) => e.type),
        expected,
        'another instance reads the same history',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes a failed rotation that rekey resume finished in its own process, as the service shows it', async () => {
    let broken = true;
    const invoker = recordingInvoker(async (event) => {
      if (broken && event.Step === 'testSecret') throw new Error('pending key does not decrypt row 42');
      await wellBehavedRotation(client)(event);
    });
    await start(invoker, { rotationAttempts: 1 });
    await rotate();
    await sm.secretsManager.idle();
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationFailed#1']);

    broken = false;
    clock.advance(DAY);
    await resumeOutside();

    assert.equal(invoker.calls.length, 3, 'the local runner ran nothing more');
    assert.deepEqual(await stages(), { [FIRST]: ['AWSPREVIOUS'], [TOKEN]: ['AWSPENDING', 'AWSCURRENT'] });
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.deepEqual(described.LastRotatedDate, new Date(clock.now()));
    assert.deepEqual(described.NextRotationDate, new Date(clock.now() + 30 * DAY));
    assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationFailed#1', 'RotationSucceeded#1']);
    const succeeded = sm.secretsManager.events().at(-1);
    assert.equal(succeeded?.versionId, TOKEN);
    assert.match(succeeded?.reason ?? '', /UpdateSecretVersionStage/);
  });

  it('closes an interrupted rotation that rekey resume finished, so it is not resumed again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-rotation-'));
    try {
      const stateFile = join(dir, 'state.json');
      const release = await interruptInSetSecret(stateFile);
      sm = await startSecretsManager({ clock, stateFile });
      client = localSecretsManagerClient(sm.url);

      clock.advance(DAY);
      await resumeOutside();
      const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
      assert.deepEqual(described.LastRotatedDate, new Date(clock.now()));
      assert.deepEqual(eventTypes(), ['RotationStarted#1', 'RotationSucceeded#1']);

      const late = recordingInvoker(async () => {});
      sm.secretsManager.setInvoker(late);
      assert.deepEqual(sm.secretsManager.resumeInterrupted(), []);
      await sm.secretsManager.idle();
      assert.deepEqual(late.calls, []);
      release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
