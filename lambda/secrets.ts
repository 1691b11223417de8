import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { SecretDescription, SecretsStore, SecretValue, SecretVersionListing } from './ports.js';

/** The secrets store over the real Secrets Manager client (or the local endpoint, same wire). */
export function secretsManagerStore(client: SecretsManagerClient): SecretsStore {
  return {
    async describe(secretId): Promise<SecretDescription> {
      const out = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
      return {
        arn: out.ARN ?? secretId,
        name: out.Name ?? secretId,
        rotationEnabled: out.RotationEnabled,
        tags: Object.fromEntries(
          (out.Tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? '']])),
        ),
        versions: Object.entries(out.VersionIdsToStages ?? {}).map(([versionId, stages]) => ({
          versionId,
          stages: stages ?? [],
        })),
      };
    },

    async getValue(secretId, at): Promise<SecretValue | undefined> {
      try {
        const out = await client.send(
          new GetSecretValueCommand({ SecretId: secretId, VersionId: at.versionId, VersionStage: at.stage }),
        );
        if (out.SecretString === undefined || out.VersionId === undefined) return undefined;
        return { versionId: out.VersionId, stages: out.VersionStages ?? [], secretString: out.SecretString };
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw error;
      }
    },

    async putPending(secretId, token, secretString, rotationToken): Promise<void> {
      await client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: secretString,
          VersionStages: ['AWSPENDING'],
          ...(rotationToken ? { RotationToken: rotationToken } : {}),
        }),
      );
    },

    async moveStage(secretId, stage, move): Promise<void> {
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: stage,
          MoveToVersionId: move.toVersionId,
          RemoveFromVersionId: move.fromVersionId,
        }),
      );
    },

    async listVersions(secretId): Promise<SecretVersionListing[]> {
      const versions: SecretVersionListing[] = [];
      let next: string | undefined;
      do {
        const out = await client.send(
          new ListSecretVersionIdsCommand({ SecretId: secretId, NextToken: next }),
        );
        for (const v of out.Versions ?? []) {
          if (v.VersionId === undefined) continue;
          versions.push({
            versionId: v.VersionId,
            stages: v.VersionStages ?? [],
            ...(v.CreatedDate ? { createdDate: v.CreatedDate.getTime() } : {}),
          });
        }
        next = out.NextToken;
      } while (next);
      return versions;
    },

    async tag(secretId, tags): Promise<void> {
      await client.send(
        new TagResourceCommand({
          SecretId: secretId,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
    },

    async untag(secretId, keys): Promise<void> {
      await client.send(new UntagResourceCommand({ SecretId: secretId, TagKeys: [...keys] }));
    },
  };
}
