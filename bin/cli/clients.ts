import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { BaseDeps, Clock, Log, RekeyConfig } from '../../lambda/index.js';
import { createDataApiClient, dataApiRunner, secretsManagerStore } from '../../lambda/index.js';
import { AWS_SERVICES, recordFailedCalls } from './aws-errors.js';

/** The CLI has no Lambda time limit; a day only keeps a forgotten run from holding on forever. */
export const CLI_DEADLINE_MS = 24 * 60 * 60_000;

/** Where the SDK clients go and as whom, from the standard flags. */
export interface AwsOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly endpointUrl?: string;
}

/** The SDK clients the CLI uses, made in this one place. */
export interface AwsClients {
  readonly secretsManager: SecretsManagerClient;
  readonly rdsData: RDSDataClient;
}

/**
 * Makes the SDK clients. Unset options fall to the SDK's own chain (AWS_REGION, AWS_PROFILE, the config
 * files, and the per-service AWS_ENDPOINT_URL_* variables), so the CLI behaves as AWS tools do. Each
 * client records which call an error came from, for the error line (see `explainError`).
 */
export function awsClients(options: AwsOptions): AwsClients {
  const common = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
  };
  const secretsManager = new SecretsManagerClient(common);
  const rdsData = createDataApiClient(common);
  recordFailedCalls(secretsManager.middlewareStack, AWS_SERVICES.secretsManager, options, () =>
    secretsManager.config.region(),
  );
  recordFailedCalls(rdsData.middlewareStack, AWS_SERVICES.rdsData, options, () => rdsData.config.region());
  return { secretsManager, rdsData };
}

/**
 * The collaborators the rotation steps run over, built from the CLI's clients. Composed here from
 * lambda's adapters rather than through `createDeps`, because `createDeps` has no way to pass a profile.
 */
export function rotationDeps(
  config: RekeyConfig,
  clients: AwsClients,
  options: { readonly clock: Clock; readonly log: Log },
): BaseDeps {
  return {
    config,
    secrets: secretsManagerStore(clients.secretsManager),
    db: dataApiRunner(clients.rdsData, config.dataApi),
    clock: options.clock,
    log: options.log,
  };
}
