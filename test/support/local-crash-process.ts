/**
 * A Secrets Manager process that dies mid-rotation: it keeps state in the file named by argv[2],
 * creates `crash/app-key`, calls RotateSecret with LOCAL_CRASH_TOKEN, and kills itself with SIGKILL
 * once setSecret has started, leaving the rotation running in the state file.
 */
import { CreateSecretCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { startSecretsManager } from '../../local/index.js';
import { localSecretsManagerClient } from './local-clients.js';
import { wellBehavedRotation } from './local-rotation.js';

/** The token of the rotation the process starts and abandons by dying. */
export const LOCAL_CRASH_TOKEN = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
/** The secret the process creates. */
export const LOCAL_CRASH_SECRET = 'crash/app-key';

const stateFile = process.argv[2];
if (stateFile && process.argv[1]?.endsWith('local-crash-process.ts')) {
  let rotate = wellBehavedRotation(localSecretsManagerClient('http://127.0.0.1:1'));
  const sm = await startSecretsManager({
    stateFile,
    invoker: async (event) => {
      if (event.Step === 'setSecret') process.kill(process.pid, 'SIGKILL');
      await rotate(event);
    },
  });
  const client = localSecretsManagerClient(sm.url);
  rotate = wellBehavedRotation(client, '{"k":"from the crashed process"}');
  await client.send(new CreateSecretCommand({ Name: LOCAL_CRASH_SECRET, SecretString: '{"k":"original"}' }));
  await client.send(
    new RotateSecretCommand({
      SecretId: LOCAL_CRASH_SECRET,
      ClientRequestToken: LOCAL_CRASH_TOKEN,
      RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation',
    }),
  );
  await new Promise(() => {});
}
