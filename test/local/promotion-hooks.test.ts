import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  type PromotionHook,
  type RunningSecretsManager,
  type SecretsManagerOptions,
  type SecretVersionPromoted,
  startSecretsManager,
} from '../../local/index.js';
import { localSecretsManagerClient, manualClock, recordingSleep } from '../support/local-clients.js';
import { gate, wellBehavedRotation } from '../support/local-rotation.js';

const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
const FIRST = '11111111-1111-4111-8111-111111111111';
const SECOND = '22222222-2222-4222-8222-222222222222';
const THIRD = '33333333-3333-4333-8333-333333333333';

describe('local promotion hooks', () => {
  const clock = manualClock(Date.UTC(2025, 5, 1, 9, 0));
  let sm: RunningSecretsManager;
  let client: SecretsManagerClient;
  let arn: string;

  const start = async (options: SecretsManagerOptions = {}) => {
    sm = await startSecretsManager({ clock, ...options });
    client = localSecretsManagerClient(sm.url);
    sm.secretsManager.setInvoker(wellBehavedRotation(client));
    const created = await client.send(
      new CreateSecretCommand({ Name: 'app/key', SecretString: '{"k":"first"}', ClientRequestToken: FIRST }),
    );
    arn = created.ARN ?? '';
  };
  /** A hook that records each event with the AWSCURRENT version it sees when it runs. */
  const recordingHook = () => {
    const seen: { event: SecretVersionPromoted; currentWhenRun: string | undefined }[] = [];
    const hook: PromotionHook = async (event) => {
      const current = await client.send(new GetSecretValueCommand({ SecretId: event.detail.secretArn }));
      seen.push({ event, currentWhenRun: current.VersionId });
    };
    return { hook, seen };
  };
  const putPending = (token: string) =>
    client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        ClientRequestToken: token,
        SecretString: `{"k":"${token}"}`,
        VersionStages: ['AWSPENDING'],
      }),
    );
  const promote = (to: string, from: string) =>
    client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: to,
        RemoveFromVersionId: from,
      }),
    );

  afterEach(async () => {
    await sm.secretsManager.idle();
    await sm.secretsManager.promotionHooksIdle();
    client.destroy();
    await sm.close();
  });

  it('runs a hook once per rotation that finishSecret promotes, after AWSCURRENT moved, with the EventBridge event', async () => {
    const { hook, seen } = recordingHook();
    await start({ promotionHooks: [hook] });
    for (const token of [SECOND, THIRD]) {
      await client.send(
        new RotateSecretCommand({ SecretId: arn, ClientRequestToken: token, RotationLambdaARN: LAMBDA }),
      );
      await sm.secretsManager.idle();
      await sm.secretsManager.promotionHooksIdle();
    }
    assert.deepEqual(
      seen.map((s) => s.event.detail),
      [
        { secretArn: arn, versionId: SECOND },
        { secretArn: arn, versionId: THIRD },
      ],
    );
    assert.deepEqual(
      seen.map((s) => s.currentWhenRun),
      [SECOND, THIRD],
    );
    const event = seen[0]?.event;
    assert.equal(event?.source, 'rekey');
    assert.equal(event?.['detail-type'], 'Secret version promoted');
    assert.equal(event?.time, new Date(clock.now()).toISOString());
  });

  it('runs a hook for a direct UpdateSecretVersionStage call, as from rekey resume or an operator', async () => {
    const { hook, seen } = recordingHook();
    await start();
    sm.secretsManager.onPromotion(hook, 'recorder');
    await putPending(SECOND);
    await promote(SECOND, FIRST);
    await sm.secretsManager.promotionHooksIdle();
    assert.deepEqual(
      seen.map((s) => [s.event.detail.versionId, s.currentWhenRun]),
      [[SECOND, SECOND]],
    );
    assert.deepEqual(
      sm.secretsManager.promotionHookReports().map((r) => [r.hook, r.versionId, r.attempt, r.outcome]),
      [['recorder', SECOND, 1, 'succeeded']],
    );
  });

  it('runs a hook for a value written with PutSecretValue without VersionStages, which makes it AWSCURRENT', async () => {
    const { hook, seen } = recordingHook();
    await start({ promotionHooks: [hook] });
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: SECOND, SecretString: '{"k":"set"}' }),
    );
    await sm.secretsManager.promotionHooksIdle();
    assert.deepEqual(
      seen.map((s) => [s.event.detail.versionId, s.currentWhenRun]),
      [[SECOND, SECOND]],
    );
  });

  it('does not run for moves that promote nothing: other labels, or AWSCURRENT onto the version that has it', async () => {
    const { hook, seen } = recordingHook();
    await start({ promotionHooks: [hook] });
    await putPending(SECOND);
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        MoveToVersionId: FIRST,
        RemoveFromVersionId: SECOND,
      }),
    );
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: FIRST,
      }),
    );
    await sm.secretsManager.promotionHooksIdle();
    assert.deepEqual(seen, []);
  });

  it('answers the promoting call before the hook finishes: the hook runs outside the request', async () => {
    const held = gate();
    await start({
      promotionHooks: [
        async () => {
          held.arrive();
          await held.wait;
        },
      ],
    });
    await putPending(SECOND);
    // Resolves although the hook is still waiting on the gate.
    await promote(SECOND, FIRST);
    await held.reached;
    const current = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    assert.equal(current.VersionId, SECOND);
    held.open();
  });

  it('keeps a failing hook from failing the call, retries it with growing pauses, reports each attempt, and runs the other hooks', async () => {
    const sleep = recordingSleep();
    let calls = 0;
    const failing: PromotionHook = async () => {
      calls++;
      throw new Error('service restart refused');
    };
    const { hook, seen } = recordingHook();
    await start({ sleep, promotionHookRetry: { attempts: 3, delayMs: 100 } });
    sm.secretsManager.onPromotion(failing, 'restart-app');
    sm.secretsManager.onPromotion(hook, 'recorder');
    await putPending(SECOND);
    const answer = await promote(SECOND, FIRST);
    assert.equal(answer.ARN, arn);
    await sm.secretsManager.promotionHooksIdle();
    assert.equal(calls, 3);
    assert.deepEqual(sleep.slept, [100, 200]);
    assert.deepEqual(
      sm.secretsManager
        .promotionHookReports()
        .filter((r) => r.hook === 'restart-app')
        .map((r) => [r.attempt, r.outcome, r.error?.message]),
      [
        [1, 'retrying', 'service restart refused'],
        [2, 'retrying', 'service restart refused'],
        [3, 'failed', 'service restart refused'],
      ],
    );
    assert.equal(seen.length, 1);
  });

  it('stops retrying once a later attempt succeeds', async () => {
    let calls = 0;
    await start({
      sleep: recordingSleep(),
      promotionHooks: [
        () => {
          calls++;
          if (calls === 1) throw new Error('not yet');
        },
      ],
    });
    await putPending(SECOND);
    await promote(SECOND, FIRST);
    await sm.secretsManager.promotionHooksIdle();
    assert.equal(calls, 2);
    assert.deepEqual(
      sm.secretsManager.promotionHookReports().map((r) => r.outcome),
      ['retrying', 'succeeded'],
    );
  });

  it('runs one hook for successive promotions in order, never two at once', async () => {
    const order: string[] = [];
    let running = 0;
    await start({
      promotionHooks: [
        async (event) => {
          running++;
          assert.equal(running, 1);
          await new Promise<void>((resolve) => setImmediate(resolve));
          order.push(event.detail.versionId);
          running--;
        },
      ],
    });
    await putPending(SECOND);
    await promote(SECOND, FIRST);
    await putPending(THIRD);
    await promote(THIRD, SECOND);
    await sm.secretsManager.promotionHooksIdle();
    assert.deepEqual(order, [SECOND, THIRD]);
  });

  it('stops running a hook once it is removed', async () => {
    const { hook, seen } = recordingHook();
    await start();
    const remove = sm.secretsManager.onPromotion(hook);
    remove();
    await putPending(SECOND);
    await promote(SECOND, FIRST);
    await sm.secretsManager.promotionHooksIdle();
    assert.deepEqual(seen, []);
  });
});
