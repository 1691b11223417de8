import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { InstanceClass, InstanceSize, InstanceType, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  AuroraPostgresEngineVersion,
  ClusterInstance,
  DatabaseCluster,
  DatabaseClusterEngine,
} from 'aws-cdk-lib/aws-rds';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { parseConfig } from '../../lambda/config.js';
import { DATA_API_ACTIONS, GUARDED_ACTIONS, PropsError, SECRET_ACTIONS } from '../../lib/index.js';
import {
  ACCOUNT,
  ADMIN_ARN,
  APP_SECRET_ARN,
  build,
  CLUSTER_ARN,
  construct,
  DB_SECRET_ARN,
  iamStatements,
  KEY_ARN,
  REGION,
  rendered,
  SETTINGS,
} from './fixtures.js';

const VIA_SECRETS_MANAGER = { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` };

describe('the rotation function', () => {
  const built = build();

  it('runs on arm64 and the newest Node runtime, with a 15-minute timeout and no reserved concurrency', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
      Handler: 'index.handler',
      ReservedConcurrentExecutions: Match.absent(),
      // The process settings the benchmark measures (lib/rotation-process.ts): flat peak memory.
      Environment: {
        Variables: {
          REKEY_CONFIG: Match.anyValue(),
          NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8 --max-old-space-size=512',
          MALLOC_MMAP_THRESHOLD_: '131072',
        },
      },
      LoggingConfig: { LogGroup: rendered(built, built.rotation.logGroup.logGroupName) },
    });
    built.template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('gets a configuration the Lambda itself accepts, holding ARNs and names and never a secret value', () => {
    const fn = Object.values(built.template.findResources('AWS::Lambda::Function'))[0] as {
      Properties: { Environment: { Variables: { REKEY_CONFIG: { 'Fn::Join': [string, unknown[]] } } } };
    };
    const parts = fn.Properties.Environment.Variables.REKEY_CONFIG['Fn::Join'][1];
    const json = parts.map((p) => (typeof p === 'string' ? p : APP_SECRET_ARN)).join('');
    const config = parseConfig(JSON.parse(json), 'REKEY_CONFIG');
    assert.equal(config.secretId, APP_SECRET_ARN);
    assert.deepEqual(config.dataApi, {
      resourceArn: CLUSTER_ARN,
      secretArn: DB_SECRET_ARN,
      database: 'app',
      engine: 'postgres',
    });
    assert.deepEqual(
      parts.filter((p) => typeof p !== 'string'),
      [rendered(built, built.rotation.secret.secretArn)],
    );
  });

  it('honours reserved concurrency of 10 or more, and memory', () => {
    build({ reservedConcurrentExecutions: 10, memorySize: 2048 }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      { ReservedConcurrentExecutions: 10, MemorySize: 2048 },
    );
  });
});

describe('the new secret', () => {
  it('is created without a value, so none can be read from the template, and kept when the stack goes', () => {
    const built = build({ secretName: 'prod/app-key' });
    built.template.hasResource('AWS::SecretsManager::Secret', {
      Properties: {
        Name: 'prod/app-key',
        GenerateSecretString: Match.absent(),
        SecretString: Match.absent(),
        KmsKeyId: Match.absent(),
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('is encrypted with the customer-managed key when one is given', () => {
    build({}, (stack) => ({
      encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN),
    })).template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: KEY_ARN });
  });
});

describe('least-privilege IAM', () => {
  it('grants exactly the rotation actions on this secret, the Data API on this cluster, the credentials and logs', () => {
    const built = build();
    assert.deepEqual(iamStatements(built.template), [
      {
        Sid: 'RotateThisSecret',
        Effect: 'Allow',
        Action: [...SECRET_ACTIONS],
        Resource: rendered(built, built.rotation.secret.secretArn),
      },
      {
        Sid: 'DataApiOnThisCluster',
        Effect: 'Allow',
        Action: 'rds-data:ExecuteStatement',
        Resource: CLUSTER_ARN,
      },
      {
        Sid: 'DataApiSignsInWithThisSecret',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: DB_SECRET_ARN,
      },
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: rendered(built, built.rotation.logGroup.logGroupArn),
      },
    ]);
    assert.deepEqual(SECRET_ACTIONS, [
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
      'secretsmanager:ListSecretVersionIds',
      'secretsmanager:TagResource',
      'secretsmanager:UntagResource',
    ]);
    assert.deepEqual(DATA_API_ACTIONS, ['rds-data:ExecuteStatement']);
  });

  it('gives the role no managed policy and lets only Lambda assume it', () => {
    build().template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ],
      },
      ManagedPolicyArns: Match.absent(),
    });
  });

  it('adds KMS, through Secrets Manager and for this secret only, when a customer-managed key encrypts it', () => {
    const built = build({}, (stack) => ({ encryptionKey: Key.fromKeyArn(stack, 'K', KEY_ARN) }));
    const kms = iamStatements(built.template).filter((s) => JSON.stringify(s.Action).includes('kms:'));
    assert.deepEqual(kms, [
      {
        Sid: 'SecretKeyThroughSecretsManager',
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: KEY_ARN,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': rendered(built, built.rotation.secret.secretArn) },
        },
      },
    ]);
    assert.ok(!iamStatements(build().template).some((s) => JSON.stringify(s.Action).includes('kms:')));
  });

  it('adds Decrypt on the credentials key when the DB credentials secret has one', () => {
    const built = build({}, (stack) => ({
      credentialsSecret: Secret.fromSecretAttributes(stack, 'DbWithKey', {
        secretCompleteArn: DB_SECRET_ARN,
        encryptionKey: Key.fromKeyArn(stack, 'DbKey', KEY_ARN),
      }),
    }));
    const kms = iamStatements(built.template).filter((s) => JSON.stringify(s.Action).includes('kms:'));
    assert.deepEqual(kms, [
      {
        Sid: 'CredentialsKeyThroughSecretsManager',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KEY_ARN,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': DB_SECRET_ARN },
        },
      },
    ]);
  });

  it('names a secret imported by name as its partial ARN followed by six characters', () => {
    const built = build({}, (stack) => ({ secret: Secret.fromSecretNameV2(stack, 'App', 'prod/app-key') }));
    const rotate = iamStatements(built.template).find((s) => s.Sid === 'RotateThisSecret');
    assert.deepEqual(rotate?.Resource, {
      'Fn::Join': [
        '',
        [
          `arn:`,
          { Ref: 'AWS::Partition' },
          `:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/app-key-??????`,
        ],
      ],
    });
    built.template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceArn: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
    });
    assert.equal(built.rotation.secretId, 'prod/app-key');
  });

  it('lets only Secrets Manager, from this account and for this secret, and the sweep rule invoke the function', () => {
    const built = build();
    const permissions = Object.values(built.template.findResources('AWS::Lambda::Permission')).map(
      (p) => (p as { Properties: Record<string, unknown> }).Properties,
    );
    assert.deepEqual(permissions, [
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: rendered(built, built.rotation.rotationFunction.functionArn),
        Principal: 'secretsmanager.amazonaws.com',
        SourceAccount: ACCOUNT,
        SourceArn: rendered(built, built.rotation.secret.secretArn),
      },
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: rendered(built, built.rotation.rotationFunction.functionArn),
        Principal: 'events.amazonaws.com',
        SourceArn: rendered(built, built.rotation.sweepRule?.ruleArn),
      },
    ]);
  });
});

describe('the secret guard', () => {
  it('denies writing values, moving labels and deleting to all but the rotation role and the admins', () => {
    const built = build();
    const keepers = [rendered(built, built.rotation.role.roleArn), ADMIN_ARN];
    built.template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: rendered(built, built.rotation.secret.secretArn),
      ResourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyRekeyWritesWhileItOwnsTheSecret',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: [...GUARDED_ACTIONS],
            Resource: '*',
            Condition: { ArnNotLike: { 'aws:PrincipalArn': keepers } },
          },
          {
            Sid: 'OnlyRekeyRotatesTheSecret',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'secretsmanager:RotateSecret',
            Resource: '*',
            Condition: {
              Null: { 'secretsmanager:RotationLambdaARN': 'false' },
              ArnNotEquals: {
                'secretsmanager:RotationLambdaARN': rendered(
                  built,
                  built.rotation.rotationFunction.functionArn,
                ),
              },
              ArnNotLike: { 'aws:PrincipalArn': keepers },
            },
          },
        ],
      },
    });
    assert.deepEqual(GUARDED_ACTIONS, [
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecret',
      'secretsmanager:UpdateSecretVersionStage',
      'secretsmanager:TagResource',
      'secretsmanager:UntagResource',
      'secretsmanager:DeleteSecret',
    ]);
  });

  it('guards an imported secret with its own resource policy, and warns that it replaces the old one', () => {
    const built = build({}, (stack) => ({
      secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
    }));
    built.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    built.template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      SecretId: APP_SECRET_ARN,
      ResourcePolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Sid: 'OnlyRekeyWritesWhileItOwnsTheSecret' })]),
      },
    });
    Annotations.fromStack(built.stack).hasWarning('/Test/Rotation', Match.stringLikeRegexp('replaces'));
  });

  it('can be turned off, and then needs no admins', () => {
    build({ guardSecret: false, adminPrincipalArns: [] }).template.resourceCountIs(
      'AWS::SecretsManager::ResourcePolicy',
      0,
    );
  });

  it('refuses to lock everyone out: at least one admin while it is on', () => {
    assert.throws(
      () => construct({ adminPrincipalArns: [] }),
      (e: Error) =>
        e instanceof PropsError && /adminPrincipalArns is empty while guardSecret is on/.test(e.message),
    );
  });
});

describe('the rotation schedule', () => {
  it('rotates every 30 days, never on deploy by default, and only once the service may invoke the function', () => {
    const built = build();
    built.template.hasResource('AWS::SecretsManager::RotationSchedule', {
      Properties: {
        SecretId: rendered(built, built.rotation.secret.secretArn),
        RotationLambdaARN: rendered(built, built.rotation.rotationFunction.functionArn),
        RotationRules: { ScheduleExpression: 'rate(30 days)' },
        RotateImmediatelyOnUpdate: false,
      },
      DependsOn: [Match.stringLikeRegexp('InvokeBySecretsManager')],
    });
  });

  it('renders a cron schedule with its window, and rotates on deploy when asked', () => {
    build({
      schedule: { expression: 'cron(0 3 ? * SUN *)' },
      rotateImmediatelyOnUpdate: true,
    }).template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 3 ? * SUN *)', Duration: Match.absent() },
      RotateImmediatelyOnUpdate: true,
    });
  });
});

describe('a first deploy with rotation off', () => {
  it('creates the secret, the function and the guard, but no schedule and no sweep until rekey init has run', () => {
    const built = build({ enableRotation: false });
    built.template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    built.template.resourceCountIs('AWS::Lambda::Function', 1);
    built.template.resourceCountIs('AWS::SecretsManager::ResourcePolicy', 1);
    built.template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    built.template.resourcePropertiesCountIs(
      'AWS::Events::Rule',
      { ScheduleExpression: Match.anyValue() },
      0,
    );
    assert.equal(built.rotation.rotationSchedule, undefined);
    assert.equal(built.rotation.sweepRule, undefined);
  });
});

describe('the database', () => {
  const cluster = (enableDataApi: boolean) =>
    construct({ clusterArn: undefined }, (stack) => ({
      cluster: new DatabaseCluster(stack, 'Cluster', {
        engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_16_4 }),
        vpc: new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 }),
        writer: ClusterInstance.provisioned('Writer', {
          instanceType: InstanceType.of(InstanceClass.R6G, InstanceSize.LARGE),
        }),
        vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        enableDataApi,
      }),
    }));

  it('takes a cluster construct with the Data API enabled and grants on its ARN', () => {
    const built = cluster(true);
    const template = Template.fromStack(built.stack);
    const dataApi = iamStatements(template).find((s) => s.Sid === 'DataApiOnThisCluster');
    assert.ok(dataApi);
    assert.deepEqual(Object.keys(dataApi.Resource as object), ['Fn::Join']);
  });

  it('refuses at synth a cluster whose Data API is off', () => {
    const built = cluster(false);
    assert.throws(() => built.app.synth(), /must have the Data API enabled \(enableDataApi: true\)/);
  });
});

describe('props validation', () => {
  const refuses = (props: Parameters<typeof construct>[0], message: RegExp) =>
    assert.throws(
      () => construct(props),
      (e: Error) =>
        e instanceof PropsError &&
        e.constructPath === 'Test/Rotation' &&
        e.message.startsWith('Test/Rotation: ') &&
        message.test(e.message),
    );

  it("names the construct's path in the message and as a field, as aws-cdk-lib's validation errors do", () => {
    assert.throws(
      () => construct({ memorySize: 64 }),
      (e: Error) =>
        e instanceof PropsError &&
        e.name === 'PropsError' &&
        e.constructPath === 'Test/Rotation' &&
        e.message === 'Test/Rotation: memorySize must be a whole number of MB from 128 to 10240, got 64',
    );
  });

  it('wants exactly one of cluster and clusterArn, and a cluster ARN that is one', () => {
    refuses({ clusterArn: undefined }, /give exactly one of cluster and clusterArn, got neither/);
    refuses(
      { clusterArn: 'arn:aws:rds:eu-west-1:123456789012:db:app' },
      /clusterArn must be an Aurora cluster ARN .* got 'arn:aws:rds:eu-west-1:123456789012:db:app'/,
    );
  });

  it('names the database and engine props when they are wrong', () => {
    refuses({ databaseName: 'app; drop' }, /databaseName must be a plain SQL identifier .* got 'app; drop'/);
    refuses({ engine: 'oracle' as never }, /engine must be 'postgres' or 'mysql', got 'oracle'/);
  });

  it('reports bad settings as the Lambda would, naming the field and the value', () => {
    refuses(
      { settings: { ...SETTINGS, storedFields: [{ table: 'x;drop', id: 'id', columns: ['c'] }] } },
      /settings: storedFields\.0\.table must be a plain SQL identifier .*got 'x;drop'/,
    );
  });

  it('refuses reserved concurrency below 10, memory out of range and admins that are not principal ARNs', () => {
    refuses(
      { reservedConcurrentExecutions: 5 },
      /reservedConcurrentExecutions must be a whole number of at least 10 .* got 5/,
    );
    refuses({ memorySize: 64 }, /memorySize must be a whole number of MB from 128 to 10240, got 64/);
    refuses(
      { adminPrincipalArns: ['rekey-admin'] },
      /adminPrincipalArns must hold IAM role or user ARNs .* got 'rekey-admin'/,
    );
  });

  it('refuses a secret name the service refuses, and new-secret props with an existing secret', () => {
    refuses(
      { secretName: 'my secret!' },
      /secretName must be 1 to 512 of letters, digits and \/_\+=\.@-, got 'my secret!'/,
    );
    assert.throws(
      () =>
        construct({ secretName: 'x' }, (stack) => ({
          secret: Secret.fromSecretCompleteArn(stack, 'App', APP_SECRET_ARN),
        })),
      (e: Error) =>
        e instanceof PropsError &&
        e.message.startsWith('Test/Rotation: secretName and removalPolicy apply to a new secret'),
    );
  });

  it('refuses a schedule the service refuses before creating anything, naming the construct', () => {
    refuses({ schedule: { expression: 'cron(30 3 * * ? *)' } }, /minutes field 0/);
    refuses({ sweepDelay: Duration.minutes(30) }, /sweepDelay must be whole hours from 1 to 23/);
  });
});
