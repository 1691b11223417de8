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
  InvalidNextTokenException,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  type ListSecretsCommandInput,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  RotateSecretCommand,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type RunningSecretsManager, startSecretsManager } from '../../local/index.js';
import { localSecretsManagerClient, manualClock } from '../support/local-clients.js';
import { wellBehavedRotation } from '../support/local-rotation.js';

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

  it('leaves VersionStages out for a version with no labels, as the service does', async () => {
    const { arn } = await create('v1');
    for (const [value, token] of [
      ['v2', TOKEN_2],
      ['v3', TOKEN_3],
    ] as const) {
      await client.send(
        new PutSecretValueCommand({ SecretId: arn, SecretString: value, ClientRequestToken: token }),
      );
    }
    const all = await client.send(
      new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
    );
    const deprecated = all.Versions?.find((v) => v.VersionId === TOKEN_1);
    assert.ok(deprecated, 'the deprecated version is listed');
    assert.equal(deprecated.VersionStages, undefined, 'no empty list');
    assert.deepEqual(all.Versions?.find((v) => v.VersionId === TOKEN_2)?.VersionStages, ['AWSPREVIOUS']);
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
      headers: {
        'x-amz-target': 'secretsmanager.ReplicateSecretToRegions',
        'content-type': 'application/x-amz-json-1.1',
      },
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

describe('ListSecrets and RestoreSecret over the real SDK', () => {
  const clock = manualClock(Date.UTC(2025, 3, 1, 8, 0));
  const DAY = 86_400_000;
  const LAMBDA = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';
  let sm: RunningSecretsManager;
  let client: SecretsManagerClient;
  const arns = new Map<string, string>();

  const names = async (input: ListSecretsCommandInput = {}) =>
    (await client.send(new ListSecretsCommand(input))).SecretList?.map((s) => s.Name) ?? [];

  before(async () => {
    sm = await startSecretsManager({ clock, invoker: async (event) => wellBehavedRotation(client)(event) });
    client = localSecretsManagerClient(sm.url);
    const secrets = [
      {
        Name: 'prod/app/key',
        Description: 'Encryption KEY of the app',
        Tags: [{ Key: 'team', Value: 'payments' }],
      },
      { Name: 'prod/db', Description: 'database login', Tags: [{ Key: 'tier', Value: 'data' }] },
      { Name: 'staging/app/key', Tags: [{ Key: 'team', Value: 'platform' }] },
      { Name: 'credsDatabase892' },
    ];
    for (const secret of secrets) {
      clock.advance(1000);
      const out = await client.send(new CreateSecretCommand({ ...secret, SecretString: '{"k":"v1"}' }));
      arns.set(secret.Name, out.ARN ?? '');
    }
  });
  after(async () => {
    await sm.secretsManager.idle();
    client.destroy();
    await sm.close();
  });

  it('lists every secret with its metadata and labels, oldest first, never a value', async () => {
    clock.advance(DAY);
    await client.send(
      new RotateSecretCommand({
        SecretId: 'prod/db',
        RotationLambdaARN: LAMBDA,
        RotationRules: { AutomaticallyAfterDays: 30 },
      }),
    );
    await sm.secretsManager.idle();
    const out = await client.send(new ListSecretsCommand({}));
    assert.deepEqual(
      out.SecretList?.map((s) => s.Name),
      ['prod/app/key', 'prod/db', 'staging/app/key', 'credsDatabase892'],
    );
    assert.equal(out.NextToken, undefined);
    const key = out.SecretList?.[0];
    assert.equal(key?.ARN, arns.get('prod/app/key'));
    assert.equal(key?.Description, 'Encryption KEY of the app');
    assert.deepEqual(key?.Tags, [{ Key: 'team', Value: 'payments' }]);
    assert.equal(key?.RotationEnabled, undefined, 'left out until rotation is configured');
    assert.equal(key?.LastRotatedDate, undefined);
    assert.ok(key?.LastChangedDate instanceof Date && key.CreatedDate instanceof Date);
    assert.deepEqual(Object.values(key?.SecretVersionsToStages ?? {}), [['AWSCURRENT']]);
    assert.equal('SecretString' in (key ?? {}), false);

    const rotated = out.SecretList?.[1];
    assert.equal(rotated?.RotationEnabled, true);
    assert.equal(rotated?.RotationLambdaARN, LAMBDA);
    assert.deepEqual(rotated?.LastRotatedDate, new Date(clock.now()));
    assert.deepEqual(rotated?.NextRotationDate, new Date(clock.now() + 30 * DAY));
    assert.deepEqual(
      Object.values(rotated?.SecretVersionsToStages ?? {}).map((s) => [...(s ?? [])].sort()),
      [['AWSPREVIOUS'], ['AWSCURRENT', 'AWSPENDING']],
    );
    assert.deepEqual(await names({ SortOrder: 'desc' }), [
      'credsDatabase892',
      'staging/app/key',
      'prod/db',
      'prod/app/key',
    ]);
    assert.deepEqual(await names({ SortBy: 'name' }), [
      'credsDatabase892',
      'prod/app/key',
      'prod/db',
      'staging/app/key',
    ]);
  });

  it('pages with MaxResults and NextToken, and refuses a token it did not hand out', async () => {
    const first = await client.send(new ListSecretsCommand({ MaxResults: 3 }));
    assert.equal(first.SecretList?.length, 3);
    assert.ok(first.NextToken);
    const rest = await client.send(new ListSecretsCommand({ MaxResults: 3, NextToken: first.NextToken }));
    assert.deepEqual(
      rest.SecretList?.map((s) => s.Name),
      ['credsDatabase892'],
    );
    assert.equal(rest.NextToken, undefined);
    await assert.rejects(
      client.send(new ListSecretsCommand({ NextToken: 'not a token' })),
      InvalidNextTokenException,
    );
    await assert.rejects(client.send(new ListSecretsCommand({ MaxResults: 101 })), InvalidParameterException);
  });

  it('filters by name, description, tag and free text: all filters, any value, ! negates', async () => {
    assert.deepEqual(await names({ Filters: [{ Key: 'name', Values: ['prod/'] }] }), [
      'prod/app/key',
      'prod/db',
    ]);
    assert.deepEqual(
      await names({ Filters: [{ Key: 'name', Values: ['Prod/'] }] }),
      [],
      'name is case-sensitive',
    );
    assert.deepEqual(await names({ Filters: [{ Key: 'description', Values: ['encryption key'] }] }), [
      'prod/app/key',
    ]);
    assert.deepEqual(await names({ Filters: [{ Key: 'tag-key', Values: ['team'] }] }), [
      'prod/app/key',
      'staging/app/key',
    ]);
    assert.deepEqual(
      await names({
        Filters: [
          { Key: 'tag-key', Values: ['team'] },
          { Key: 'tag-value', Values: ['!pay'] },
        ],
      }),
      ['staging/app/key'],
    );
    assert.deepEqual(await names({ Filters: [{ Key: 'name', Values: ['staging', 'cred'] }] }), [
      'staging/app/key',
      'credsDatabase892',
    ]);
    assert.deepEqual(await names({ Filters: [{ Key: 'all', Values: ['DATABASE'] }] }), [
      'prod/db',
      'credsDatabase892',
    ]);
    await assert.rejects(
      client.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['a*b'] }] })),
      InvalidParameterException,
    );
  });

  it('lists a secret scheduled for deletion only with IncludePlannedDeletion, and RestoreSecret brings it back', async () => {
    const arn = arns.get('staging/app/key') ?? '';
    await client.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    assert.equal((await names()).includes('staging/app/key'), false);
    const planned = await client.send(new ListSecretsCommand({ IncludePlannedDeletion: true }));
    const deleted = planned.SecretList?.find((s) => s.ARN === arn);
    assert.deepEqual(deleted?.DeletedDate, new Date(clock.now()));
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: arn })), InvalidRequestException);

    clock.advance(DAY);
    const restored = await client.send(new RestoreSecretCommand({ SecretId: 'staging/app/key' }));
    assert.deepEqual({ ARN: restored.ARN, Name: restored.Name }, { ARN: arn, Name: 'staging/app/key' });
    assert.equal(
      (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString,
      '{"k":"v1"}',
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: arn }));
    assert.equal(described.DeletedDate, undefined);
    assert.deepEqual(described.LastChangedDate, new Date(clock.now()));
    assert.ok((await names()).includes('staging/app/key'));
    await client.send(new RestoreSecretCommand({ SecretId: arn }));
    await assert.rejects(
      client.send(new RestoreSecretCommand({ SecretId: 'no/such/secret' })),
      ResourceNotFoundException,
    );
  });

  it('forgets a secret whose recovery window has passed, as the service deletes it', async () => {
    const arn = arns.get('credsDatabase892') ?? '';
    await client.send(new DeleteSecretCommand({ SecretId: arn, RecoveryWindowInDays: 7 }));
    clock.advance(7 * DAY);
    const planned = await client.send(new ListSecretsCommand({ IncludePlannedDeletion: true }));
    assert.equal(
      planned.SecretList?.some((s) => s.ARN === arn),
      false,
    );
    await assert.rejects(client.send(new RestoreSecretCommand({ SecretId: arn })), ResourceNotFoundException);
  });
});
