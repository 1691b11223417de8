import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { RotationInvocation, RotationInvoker } from '../../local/index.js';

/** A rotation function that does what a well-behaved one does, through the real SDK client. */
export function wellBehavedRotation(client: SecretsManagerClient, newValue = '{"k":"rotated"}') {
  return async (event: RotationInvocation): Promise<void> => {
    const { SecretId, ClientRequestToken: token } = event;
    if (event.Step === 'createSecret') {
      try {
        await client.send(
          new GetSecretValueCommand({ SecretId, VersionId: token, VersionStage: 'AWSPENDING' }),
        );
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
        await client.send(
          new PutSecretValueCommand({
            SecretId,
            ClientRequestToken: token,
            SecretString: newValue,
            VersionStages: ['AWSPENDING'],
            ...(event.RotationToken ? { RotationToken: event.RotationToken } : {}),
          }),
        );
      }
    } else if (event.Step === 'finishSecret') {
      const described = await client.send(new DescribeSecretCommand({ SecretId }));
      const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, s]) =>
        s?.includes('AWSCURRENT'),
      )?.[0];
      if (current === token) return;
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          ...(current ? { RemoveFromVersionId: current } : {}),
        }),
      );
    }
  };
}

/** An invoker that records every event and runs `behaviour` for it. */
export function recordingInvoker(
  behaviour: (event: RotationInvocation, index: number) => Promise<void>,
): RotationInvoker & { readonly calls: RotationInvocation[] } {
  const calls: RotationInvocation[] = [];
  const invoker = async (event: RotationInvocation): Promise<void> => {
    calls.push(event);
    await behaviour(event, calls.length - 1);
  };
  return Object.assign(invoker, { calls });
}

/** A promise a test opens when it is ready, to hold a rotation step in the middle. */
export function gate(): {
  readonly wait: Promise<void>;
  open(): void;
  readonly reached: Promise<void>;
  arrive(): void;
} {
  let open!: () => void;
  let arrive!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  return { wait, open, reached, arrive };
}
