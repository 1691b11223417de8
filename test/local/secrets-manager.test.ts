import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type RunningSecretsManager, startSecretsManager } from '../../local/index.js';
import { localSecretsManagerClient, manualClock } from '../support/local-clients.js';

const TOKEN_1 = '11111111-1111-4111-8111-111111111111';
const TOKEN_2 = '22222222-2222-4222-8222-222222222222';
const TOKEN_3 = '33333333-3333-4333-8333-333333333333';

describe('local Secrets Manager operations over the real SDK', () => {
  const clock = manualClock(Date.UTC(2025, 2, 1, 10, 30));
  let sm: RunningSecretsManager;
  let client: SecretsManagerClient;
  let n = 0;
  const create = async (value = '{"k":"v1"}', token = TOKEN_1) => {
    const name = `app/secret-${++n}`;
    const out = await client.send(
      new CreateSecretCommand({ Name: name, SecretString: value, ClientRequestToken: token }),
    );
    return { name, arn: out.ARN ?? '', versionId: out.VersionId ?? '' };
  };
  const stages = async (secretId: string) =>
    (await client.send(new DescribeSecretCommand({ SecretId: secretId }))).VersionIdsToStages ?? {};

  before(async () => {
    sm = await startSecretsManager({ clock });
    client = localSecretsManagerClient(sm.url);
  });
  after(async () => {
    client.destroy();
    await sm.close();
  });

  it('creates a secret with a real-looking ARN and its first version staged AWSCURRENT', async () => {
    const { name, arn, versionId } = await create();
    assert.match(
      arn,
      new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[A-Za-z0-9]{6}$`),
    );
    assert.equal(versionId, TOKEN_1);
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.equal(described.Name, name);
    assert.deepEqual(described.VersionIdsToStages, { [TOKEN_1]: ['AWSCURRENT'] });
    assert.equal(described.RotationEnabled, undefined, 'left out until rotation is configured');
    assert.deepEqual(described.CreatedDate, new Date(clock.now()), 'epoch seconds become Dates');
  });

  it('refuses a second secret with the same name, but answers a retried create the same', async () => {
    const { name, arn } = await create();
    const retried = await client.send(
      new CreateSecretCommand({ Name: name, SecretString: '{"k":"v1"}', ClientRequestToken: TOKEN_1 }),
    );
    assert.equal(retried.ARN, arn);
    await assert.rejects(
      client.send(new CreateSecretCommand({ Name: name, SecretString: 'other' })),
      ResourceExistsException,
    );
  });

  it('finds a secret by name, by ARN and by ARN without its random suffix', async () => {
    const { name, arn } = await create('by-id');
    for (const id of [name, arn, arn.slice(0, -7)]) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
      assert.equal(out.SecretString, 'by-id', id);
    }
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: 'app/none' })), {
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
    });
  });

  it('reads a value by VersionId, by VersionStage, or both when they agree', async () => {
    const { arn } = await create('first');
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'second', ClientRequestToken: TOKEN_2 }),
    );
    const byId = await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: TOKEN_1 }));
    assert.equal(byId.SecretString, 'first');
    assert.deepEqual(byId.VersionStages, ['AWSPREVIOUS']);
    const byStage = await client.send(
      new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' }),
    );
    assert.equal(byStage.VersionId, TOKEN_1);
    const both = await client.send(
      new GetSecretValueCommand({ SecretId: arn, VersionId: TOKEN_2, VersionStage: 'AWSCURRENT' }),
    );
    assert.equal(both.SecretString, 'second');
    await assert.rejects(
      client.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: TOKEN_1, VersionStage: 'AWSCURRENT' }),
      ),
      ResourceNotFoundException,
    );
    await assert.rejects(
      client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
      {
        message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
      },
    );
  });

  it('stores a binary secret and hands back the same bytes', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    const out = await client.send(
      new CreateSecretCommand({ Name: `app/binary-${++n}`, SecretBinary: bytes }),
    );
    const value = await client.send(new GetSecretValueCommand({ SecretId: out.ARN }));
    assert.deepEqual(value.SecretBinary && [...value.SecretBinary], [...bytes]);
    assert.equal(value.SecretString, undefined);
  });

  it('moves AWSCURRENT to a new value and AWSPREVIOUS to the old one', async () => {
    const { arn } = await create('v1');
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v2', ClientRequestToken: TOKEN_2 }),
    );
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v3', ClientRequestToken: TOKEN_3 }),
    );
    assert.deepEqual(await stages(arn), { [TOKEN_2]: ['AWSPREVIOUS'], [TOKEN_3]: ['AWSCURRENT'] });
  });

  it('treats PutSecretValue as idempotent per token and refuses a token reused with another value', async () => {
    const { arn } = await create('v1');
    const first = await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'v2',
        ClientRequestToken: TOKEN_2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    const again = await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'v2',
        ClientRequestToken: TOKEN_2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    assert.deepEqual(again.VersionStages, first.VersionStages);
    await assert.rejects(
      client.send(
        new PutSecretValueCommand({ SecretId: arn, SecretString: 'v3', ClientRequestToken: TOKEN_2 }),
      ),
      ResourceExistsException,
    );
    assert.deepEqual(await stages(arn), { [TOKEN_1]: ['AWSCURRENT'], [TOKEN_2]: ['AWSPENDING'] });
  });

  it('keeps every label on one version, moving it with UpdateSecretVersionStage', async () => {
    const { arn } = await create('v1');
    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: 'v2',
        ClientRequestToken: TOKEN_2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    await assert.rejects(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: TOKEN_2,
        }),
      ),
      InvalidParameterException,
      'moving a held label needs RemoveFromVersionId',
    );
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: TOKEN_2,
        RemoveFromVersionId: TOKEN_1,
      }),
    );
    assert.deepEqual(await stages(arn), {
      [TOKEN_1]: ['AWSPREVIOUS'],
      [TOKEN_2]: ['AWSPENDING', 'AWSCURRENT'],
    });
    await client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: TOKEN_2,
      }),
    );
    await assert.rejects(
      client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: arn,
          VersionStage: 'AWSCURRENT',
          RemoveFromVersionId: TOKEN_1,
        }),
      ),
      InvalidParameterException,
    );
    await assert.rejects(
      client.send(
        new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'X', MoveToVersionId: TOKEN_3 }),
      ),
      ResourceNotFoundException,
    );
  });

  it('lists versions without labels only with IncludeDeprecated', async () => {
    const { arn } = await create('v1');
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v2', ClientRequestToken: TOKEN_2 }),
    );
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'v3', ClientRequestToken: TOKEN_3 }),
    );
    const listed = await client.send(new ListSecretVersionIdsCommand({ SecretId: arn }));
    assert.deepEqual(listed.Versions?.map((v) => v.VersionId).sort(), [TOKEN_2, TOKEN_3]);
    const all = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    assert.deepEqual(all.Versions?.map((v) => v.VersionId).sort(), [TOKEN_1, TOKEN_2, TOKEN_3]);
    const page = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true, MaxResults: 2 }),
    );
    assert.equal(page.Versions?.length, 2);
    const rest = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true, NextToken: page.NextToken }),
    );
    assert.equal(rest.Versions?.length, 1);
    assert.equal(rest.NextToken, undefined);
  });

  it('generates random passwords of the asked length and character types', async () => {
    const plain = await client.send(new GetRandomPasswordCommand({}));
    assert.equal(plain.RandomPassword?.length, 32);
    const out = await client.send(
      new GetRandomPasswordCommand({
        PasswordLength: 64,
        ExcludePunctuation: true,
        ExcludeCharacters: 'abc',
      }),
    );
    const password = out.RandomPassword ?? '';
    assert.equal(password.length, 64);
    assert.match(password, /^[d-zA-Z0-9]+$/);
    assert.match(password, /[0-9]/);
    assert.match(password, /[A-Z]/);
    assert.match(password, /[d-z]/);
  });

  it('refuses to work on a secret scheduled for deletion but still describes it', async () => {
    const { arn } = await create();
    const deleted = await client.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    assert.deepEqual(deleted.DeletionDate, new Date(clock.now() + 7 * 86_400_000));
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: arn })), {
      name: 'InvalidRequestException',
      message: "You can't perform this operation on the secret because it was marked for deletion.",
    });
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.deepEqual(described.DeletedDate, new Date(clock.now()));
  });

  it('deletes a secret at once with ForceDeleteWithoutRecovery', async () => {
    const { arn } = await create();
    await assert.rejects(
      client.send(
        new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 }),
      ),
      InvalidParameterException,
    );
    await client.send(new DeleteSecretCommand({ SecretId: arn, ForceDeleteWithoutRecovery: true }));
    await assert.rejects(
      client.send(new DescribeSecretCommand({ SecretId: arn })),
      ResourceNotFoundException,
    );
  });

  it('names the invalid parameter of a malformed request', async () => {
    await assert.rejects(client.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: 'x' })), {
      name: 'InvalidParameterException',
      message: /Name/,
    });
    await assert.rejects(
      client.send(new PutSecretValueCommand({ SecretId: 'app/secret-1' })),
      InvalidParameterException,
      'a value is required',
    );
    await assert.rejects(
      client.send(new GetSecretValueCommand({ SecretId: 'app/secret-1', VersionId: 'short' })),
      InvalidParameterException,
    );
  });

  it('answers an unknown operation with HTTP 400 and its name', async () => {
    const response = await fetch(sm.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'secretsmanager.ListSecrets', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { __type: string }).__type, 'UnknownOperationException');
  });

  it('keeps state in a file another instance reads back, written owner-only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-sm-'));
    try {
      const stateFile = join(dir, 'state.json');
      const first = await startSecretsManager({ stateFile });
      const c1 = localSecretsManagerClient(first.url);
      await c1.send(
        new CreateSecretCommand({ Name: 'persisted', SecretString: 'kept', ClientRequestToken: TOKEN_1 }),
      );
      c1.destroy();
      await first.close();
      assert.equal(statSync(stateFile).mode & 0o777, 0o600);

      const second = await startSecretsManager({ stateFile });
      const c2 = localSecretsManagerClient(second.url);
      const out = await c2.send(new GetSecretValueCommand({ SecretId: 'persisted' }));
      assert.equal(out.SecretString, 'kept');
      c2.destroy();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses rotation without a rotation function ARN', async () => {
    const { arn } = await create();
    await assert.rejects(client.send(new RotateSecretCommand({ SecretId: arn })), {
      name: 'InvalidRequestException',
      message: 'No Lambda rotation function ARN is associated with this secret.',
    });
  });
});
