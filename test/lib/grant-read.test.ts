import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GetSecretValueCommandInput } from '@aws-sdk/client-secrets-manager';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AccountPrincipal, type IRole, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { KeyRing } from '../../lambda/reader.js';
import { KEY_RING_READ_ACTIONS, KEY_RING_STAGES, PropsError } from '../../lib/index.js';
import { RK1_SECRET_A } from '../support/fixtures.js';
import {
  ACCOUNT,
  APP_SECRET_ARN,
  type Built,
  construct,
  KEY_ARN,
  nagViolations,
  REGION,
  rendered,
} from './fixtures.js';

const OTHER_ACCOUNT = '210987654321';
const OTHER_ACCOUNT_ROOT = {
  AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${OTHER_ACCOUNT}:root`]] },
};
const STAGE_CONDITION = {
  StringEquals: { 'secretsmanager:VersionStage': ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS'] },
};
const VIA_SECRETS_MANAGER = { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` };

/** The construct (props changed by `withStack`) and an app role in its stack, granted read. */
function grantedRead(
  withStack?: Parameters<typeof construct>[1],
): Built & { readonly appRole: IRole; readonly secretArn: unknown } {
  const built = construct({}, withStack);
  const appRole = new Role(built.stack, 'AppRole', {
    assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com'),
  });
  built.rotation.grantRead(appRole);
  return {
    ...built,
    appRole,
    template: Template.fromStack(built.stack),
    secretArn: rendered(built, built.rotation.secret.secretArn),
  };
}

/** Asserts that the app role's only policy holds exactly `statements`. */
function assertAppRolePolicy(built: ReturnType<typeof grantedRead>, statements: unknown[]): void {
  built.template.resourcePropertiesCountIs(
    'AWS::IAM::Policy',
    { Roles: [rendered(built, built.appRole.roleName)] },
    1,
  );
  built.template.hasResourceProperties('AWS::IAM::Policy', {
    Roles: [rendered(built, built.appRole.roleName)],
    PolicyDocument: Match.exact({ Version: '2012-10-17', Statement: statements }),
  });
}

describe('grantRead', () => {
  it("lets an app's role read this secret's three staged versions and nothing else", () => {
    const built = grantedRead();
    assertAppRolePolicy(built, [
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: built.secretArn,
        Condition: STAGE_CONDITION,
      },
    ]);
    assert.deepEqual(KEY_RING_READ_ACTIONS, ['secretsmanager:GetSecretValue']);
  });

  it('asks for exactly the stages the key ring loads the secret by', async () => {
    const asked: (string | undefined)[] = [];
    const client = {
      send: async (command: { input: GetSecretValueCommandInput }) => {
        asked.push(command.input.VersionStage);
        if (command.input.VersionStage === 'AWSCURRENT') return { SecretString: RK1_SECRET_A };
        throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
      },
    } as unknown as Parameters<typeof KeyRing.load>[0]['client'];
    await KeyRing.load({ client, secretId: 'app', dataKeyField: 'encryptionKey' });
    assert.deepEqual(asked.sort(), [...KEY_RING_STAGES].sort());
    assert.deepEqual(KEY_RING_STAGES, ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']);
  });

  it('names a secret imported by name as its partial ARN followed by six characters', () => {
    const built = grantedRead((stack) => ({ secret: Secret.fromSecretNameV2(stack, 'App', 'prod/app-key') }));
    assertAppRolePolicy(built, [
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app-key-??????`,
            ],
          ],
        },
        Condition: STAGE_CONDITION,
      },
    ]);
  });

  it('grants on the full ARN of a secret imported by it, with Decrypt on the key the import names', () => {
    const built = grantedRead((stack) => ({
      secret: Secret.fromSecretAttributes(stack, 'App', {
        secretCompleteArn: APP_SECRET_ARN,
        encryptionKey: Key.fromKeyArn(stack, 'AppKey', KEY_ARN),
      }),
    }));
    assertAppRolePolicy(built, [
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: APP_SECRET_ARN,
        Condition: STAGE_CONDITION,
      },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': APP_SECRET_ARN },
        },
      },
    ]);
  });

  it('adds Decrypt, through Secrets Manager and for this secret only, when a customer-managed key encrypts it', () => {
    const built = grantedRead((stack) => ({ encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN) }));
    assertAppRolePolicy(built, [
      {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: built.secretArn,
        Condition: STAGE_CONDITION,
      },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': built.secretArn },
        },
      },
    ]);
  });

  it('leaves the rotation role and the secret guard as they were', () => {
    const before = construct();
    const after = grantedRead();
    const rotationPolicies = (built: Pick<Built, 'stack' | 'rotation'>) =>
      Template.fromStack(built.stack).findResources('AWS::IAM::Policy', {
        Properties: { Roles: [rendered(built, built.rotation.role.roleName)] },
      });
    assert.deepEqual(rotationPolicies(after), rotationPolicies(before));
    assert.deepEqual(
      after.template.findResources('AWS::SecretsManager::ResourcePolicy'),
      Template.fromStack(before.stack).findResources('AWS::SecretsManager::ResourcePolicy'),
    );
  });
});

describe('grantRead to another account', () => {
  const otherAccount = new AccountPrincipal(OTHER_ACCOUNT);
  const allowOtherAccount = (resource: unknown) => ({
    Effect: 'Allow',
    Principal: OTHER_ACCOUNT_ROOT,
    Action: 'secretsmanager:GetSecretValue',
    Resource: resource,
    Condition: STAGE_CONDITION,
  });

  it("allows it in a new secret's resource policy, beside the guard, and in the policy of the stack's key", () => {
    const built = construct({}, (stack) => ({
      encryptionKey: new Key(stack, 'AppKey', { enableKeyRotation: true }),
    }));
    built.rotation.grantRead(otherAccount);
    const template = Template.fromStack(built.stack);
    const secretArn = rendered(built, built.rotation.secret.secretArn);
    template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: secretArn,
      ResourcePolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'OnlyRekeyWritesWhileItOwnsTheSecret' }),
          allowOtherAccount(secretArn),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: OTHER_ACCOUNT_ROOT,
            Action: 'kms:Decrypt',
            Resource: '*',
            // No encryption context naming the new secret: key and secret would depend on each other.
            Condition: { StringEquals: VIA_SECRETS_MANAGER },
          },
        ]),
      },
    });
  });

  it("puts the allow into the guard of an imported secret, which is that secret's whole resource policy", () => {
    const built = construct({}, (stack) => ({
      secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
      encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN),
    }));
    built.rotation.grantRead(otherAccount);
    const template = Template.fromStack(built.stack);
    template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 1);
    template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: APP_SECRET_ARN,
      ResourcePolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'OnlyRekeyRotatesTheSecret' }),
          allowOtherAccount(APP_SECRET_ARN),
        ]),
      },
    });
    // The imported key's policy is not the stack's to change.
    Annotations.fromStack(built.stack).hasWarning(
      '/Test/Rotation',
      Match.stringLikeRegexp('policy of the imported key'),
    );
  });

  it('warns when an imported secret has no resource policy the stack manages (guard off)', () => {
    const built = construct({ guardSecret: false }, (stack) => ({
      secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
      encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN),
    }));
    built.rotation.grantRead(otherAccount);
    Annotations.fromStack(built.stack).hasWarning(
      '/Test/Rotation',
      Match.stringLikeRegexp('resource policy of the imported secret'),
    );
  });

  it('refuses a secret under the AWS managed key, which no other account may use, naming the construct', () => {
    const built = construct();
    assert.throws(
      () => built.rotation.grantRead(otherAccount),
      (e: Error) =>
        e instanceof PropsError &&
        e.constructPath === 'Test/Rotation' &&
        /^Test\/Rotation: grantRead to a principal of account 210987654321: .*customer-managed key/.test(
          e.message,
        ),
    );
  });
});

describe("grantRead and cdk-nag's AwsSolutions checks", () => {
  it('find nothing in an app role granted read, with an imported secret and a customer-managed key', () => {
    const built = construct({}, (stack) => ({
      secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
      encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN),
    }));
    built.rotation.grantRead(
      new Role(built.stack, 'AppRole', { assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com') }),
    );
    assert.deepEqual(nagViolations(built.app), []);
  });
});
