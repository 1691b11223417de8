import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  type Field,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { SqlValue } from '../../lambda/ports.js';
import { MemorySecrets } from '../support/memory-secrets.js';
import { pgliteRunner } from '../support/pglite-runner.js';

/** Secrets Manager and the Data API as the CLI sees them, over in-memory secrets and PGlite. */
export interface FakeAws {
  readonly secrets: MemorySecrets;
  readonly db: Awaited<ReturnType<typeof pgliteRunner>>;
  /** Runs just before each UpdateSecretVersionStage, e.g. to play a rotation step running meanwhile. */
  beforeMoveStage?: (input: { VersionStage?: string; RemoveFromVersionId?: string }) => Promise<void>;
  /** What RotateSecret does (by default: nothing but answer with the token as the version id). */
  onRotate?: (token: string) => Promise<void>;
}

/** The Secrets Manager mock, for assertions on the calls made. */
export const secretsManagerMock = mockClient(SecretsManagerClient);
/** The Data API mock, for assertions on the statements run. */
export const dataApiMock = mockClient(RDSDataClient);
const sm = secretsManagerMock;
const data = dataApiMock;

/**
 * Points every SDK client at an in-memory Secrets Manager (with the service's staging-label rules) and
 * a PGlite database, through aws-sdk-client-mock, so the commands run unchanged in-process.
 */
export async function fakeAws(secretArn: string): Promise<FakeAws> {
  sm.reset();
  data.reset();
  const fake: FakeAws = { secrets: new MemorySecrets(secretArn), db: await pgliteRunner() };
  const { secrets, db } = fake;
  const notFound = (error: unknown) => {
    if (error instanceof Error && error.name === 'ResourceNotFoundException')
      throw new ResourceNotFoundException({ message: error.message, $metadata: {} });
    throw error;
  };
  sm.on(DescribeSecretCommand).callsFake(async (input) => {
    const d = await secrets.describe(input.SecretId).catch(notFound);
    return {
      ARN: d.arn,
      Name: d.name,
      RotationEnabled: d.rotationEnabled,
      VersionIdsToStages: Object.fromEntries(d.versions.map((v) => [v.versionId, [...v.stages]])),
    };
  });
  sm.on(ListSecretVersionIdsCommand).callsFake(async (input) => {
    const d = await secrets.describe(input.SecretId).catch(notFound);
    return { Versions: d.versions.map((v) => ({ VersionId: v.versionId, VersionStages: [...v.stages] })) };
  });
  sm.on(GetSecretValueCommand).callsFake(async (input) => {
    const v = await secrets
      .getValue(input.SecretId, { versionId: input.VersionId, stage: input.VersionStage })
      .catch(notFound);
    if (!v) throw new ResourceNotFoundException({ message: 'no such version', $metadata: {} });
    return {
      ARN: secretArn,
      VersionId: v.versionId,
      VersionStages: [...v.stages],
      SecretString: v.secretString,
    };
  });
  sm.on(PutSecretValueCommand).callsFake(async (input) => {
    const token = input.ClientRequestToken as string;
    if (input.VersionStages?.includes('AWSCURRENT'))
      secrets.add(input.SecretString, input.VersionStages, token);
    else await secrets.putPending(input.SecretId, token, input.SecretString as string);
    return { ARN: secretArn, VersionId: token };
  });
  sm.on(UpdateSecretVersionStageCommand).callsFake(async (input) => {
    await fake.beforeMoveStage?.(input);
    await secrets.moveStage(input.SecretId, input.VersionStage, {
      toVersionId: input.MoveToVersionId,
      fromVersionId: input.RemoveFromVersionId,
    });
    return { ARN: secretArn };
  });
  sm.on(RotateSecretCommand).callsFake(async (input) => {
    await fake.onRotate?.(input.ClientRequestToken);
    return { ARN: secretArn, VersionId: input.ClientRequestToken };
  });
  data.on(ExecuteStatementCommand).callsFake(async (input) => {
    const params = Object.fromEntries(
      (input.parameters ?? []).map((p: SqlParameter) => [p.name, fromParameter(p)]),
    );
    const result = await db.execute(input.sql, params);
    return { records: result.rows.map((r) => r.map(toField)), numberOfRecordsUpdated: result.updated };
  });
  data.on(BeginTransactionCommand).resolves({ transactionId: 'tx' });
  data.on(CommitTransactionCommand).resolves({});
  data.on(RollbackTransactionCommand).resolves({});
  return fake;
}

function fromParameter(p: SqlParameter): SqlValue {
  const v = p.value;
  if (!v || v.isNull) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.longValue !== undefined) return v.longValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.booleanValue !== undefined) return v.booleanValue;
  if (v.blobValue !== undefined) return v.blobValue;
  return null;
}

function toField(v: SqlValue): Field {
  if (v === null) return { isNull: true };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { booleanValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { longValue: v } : { doubleValue: v };
  return { blobValue: v };
}
