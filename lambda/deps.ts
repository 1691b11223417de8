import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RekeyConfig } from './config.js';
import { createDataApiClient, dataApiRunner } from './data-api.js';
import { createLog } from './log.js';
import { type Clock, type Log, type SecretsStore, type SqlRunner, systemClock } from './ports.js';
import { secretsManagerStore } from './secrets.js';

/** Standard AWS client settings; unset ones come from the environment as for any AWS tool. */
export interface ClientOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
}

/** The long-lived collaborators of the steps, built once per process. */
export interface BaseDeps {
  readonly config: RekeyConfig;
  readonly secrets: SecretsStore;
  readonly db: SqlRunner;
  readonly clock: Clock;
  readonly log: Log;
}

/**
 * Builds the SDK clients and the stores over them. The standard `AWS_ENDPOINT_URL_SECRETS_MANAGER` /
 * `AWS_ENDPOINT_URL_RDS_DATA` variables, or explicit endpoints, point them at the local endpoints.
 */
export function createDeps(
  config: RekeyConfig,
  options: ClientOptions & { secretsManagerEndpoint?: string; dataApiEndpoint?: string; log?: Log } = {},
): BaseDeps {
  const common = { region: options.region, profile: options.profile, credentials: options.credentials };
  const secretsClient = new SecretsManagerClient({ ...common, endpoint: options.secretsManagerEndpoint });
  const dataClient = createDataApiClient({ ...common, endpoint: options.dataApiEndpoint });
  return {
    config,
    secrets: secretsManagerStore(secretsClient),
    db: dataApiRunner(dataClient, config.dataApi),
    clock: systemClock,
    log: options.log ?? createLog(),
  };
}
