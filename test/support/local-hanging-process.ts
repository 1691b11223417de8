/**
 * `rekey local` stopped mid-rotation: starts the endpoints with the state file named by argv[2] and an
 * in-process rotation function that hangs in setSecret, creates LOCAL_HANG_SECRET, calls RotateSecret
 * with LOCAL_HANG_TOKEN, prints LOCAL_HANG_READY once setSecret hangs, and waits for its parent to kill
 * it. The state file then shows the rotation running, its pending value written by createSecret.
 */
import { CreateSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { startLocal } from '../../local/index.js';
import { localSecretsManagerClient } from './local-clients.js';
import { fakeEngine } from './local-fake-engine.js';
import { wellBehavedRotation } from './local-rotation.js';

/** The token of the rotation the process starts and never finishes. */
export const LOCAL_HANG_TOKEN = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';
/** The secret the process creates. */
export const LOCAL_HANG_SECRET = 'hang/app-key';
/** The value its createSecret writes as AWSPENDING. */
export const LOCAL_HANG_PENDING = '{"k":"from the killed process"}';
/** The line printed once setSecret hangs. */
export const LOCAL_HANG_READY = 'hanging in setSecret';

const stateFile = process.argv[2];
if (stateFile && process.argv[1]?.endsWith('local-hanging-process.ts')) {
  const local = await startLocal({ engine: fakeEngine(), stateFile });
  const client = localSecretsManagerClient(local.secretsManagerUrl);
  const rotate = wellBehavedRotation(client, LOCAL_HANG_PENDING);
  local.secretsManager.setInvoker(async (event) => {
    if (event.Step === 'setSecret') {
      process.stdout.write(`${LOCAL_HANG_READY}\n`);
      await new Promise(() => {});
    }
    await rotate(event);
  });
  await client.send(new CreateSecretCommand({ Name: LOCAL_HANG_SECRET, SecretString: '{"k":"original"}' }));
  await client.send(
    new RotateSecretCommand({
      SecretId: LOCAL_HANG_SECRET,
      ClientRequestToken: LOCAL_HANG_TOKEN,
      RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation',
      RotationRules: { AutomaticallyAfterDays: 30 },
    }),
  );
  await new Promise(() => {});
}
