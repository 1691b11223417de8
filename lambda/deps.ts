import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { RekeyConfig } from './config.js';
import { dataApiRunner } from './data-api.js';
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
 * Builds the SDK clients (the one place they are made) and the stores over them. The standard
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL_RDS_DATA` variables, or explicit endpoints,
 * point them at the local endpoints. The Data API client makes one attempt per call: rekey's own
 * retry owns backoff, so a retry is always a deliberate, compare-and-swap-safe one.
 */
export function createDeps(
  config: RekeyConfig,
  options: ClientOptions & { secretsManagerEndpoint?: string; dataApiEndpoint?: string; log?: Log } = {},
): BaseDeps {
  const common = { region: options.region, profile: options.profile, credentials: options.credentials };
  const secretsClient = new SecretsManagerClient({ ...common, endpoint: options.secretsManagerEndpoint });
  const dataClient = new RDSDataClient({ ...common, endpoint: options.dataApiEndpoint, maxAttempts: 1 });
  // The SDK's logger middleware deep-copies every request and response through its sensitive-data
  // filter even when nothing logs them: a fifth of the Lambda's CPU on a page of a thousand rows.
  // rekey logs its own lines.
  dataClient.middlewareStack.remove('loggerMiddleware');
  return {
    config,
    secrets: secretsManagerStore(secretsClient),
    db: dataApiRunner(dataClient, config.dataApi),
    clock: systemClock,
    log: options.log ?? createLog(),
  };
}
