import { Stack, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type Engine, IDENTIFIER_PATTERN, parseConfig, type RekeyConfigInput } from '../lambda/index.js';
import { PropsError } from './props-error.js';

/** What rekey rotates and re-encrypts: the config file's fields other than the Data API target. */
export type RekeySettings = Omit<RekeyConfigInput, 'dataApi' | 'secretId'>;

/** Where the rotation function finds the secret and the database. */
export interface RekeyTargets {
  /** The rotated secret as the function names it in API calls (full ARN or name; may be a token). */
  readonly secretId: string;
  /** The cluster ARN (may be a token). */
  readonly clusterArn: string;
  /** The DB credentials secret's ARN (may be a token). */
  readonly credentialsSecretArn: string;
  /** The database holding the stored fields. */
  readonly databaseName: string;
  /** The cluster's engine. */
  readonly engine: Engine;
}

/** Lambda's limit on all environment variables together, names included. */
const LAMBDA_ENVIRONMENT_BYTES = 4096;
/** Room for NODE_OPTIONS and the variable names. */
const OTHER_VARIABLES_BYTES = 64;
/** What a token ARN is assumed to take once resolved, for the size check. */
const TOKEN_ARN_BYTES = 160;

/**
 * Validates the settings with the Lambda's own parser (placeholders stand in for ARNs that are tokens)
 * and renders `REKEY_CONFIG`: the parsed configuration, defaults applied, with the real ARNs.
 * @throws PropsError naming `scope`, the field and the value, as the Lambda would at run time.
 */
export function renderRekeyConfig(scope: Construct, settings: RekeySettings, targets: RekeyTargets): string {
  if (!IDENTIFIER_PATTERN.test(targets.databaseName)) {
    throw new PropsError(
      `databaseName must be a plain SQL identifier (letters, digits, underscores; at most 63), got '${targets.databaseName}'`,
      { scope },
    );
  }
  if (targets.engine !== 'postgres' && targets.engine !== 'mysql') {
    throw new PropsError(`engine must be 'postgres' or 'mysql', got '${String(targets.engine)}'`, { scope });
  }
  const placeholder = (value: string, service: 'rds' | 'secretsmanager', resource: string) =>
    Token.isUnresolved(value)
      ? `arn:aws:${service}:us-east-1:000000000000:${resource}:${'x'.repeat(TOKEN_ARN_BYTES - 50)}`
      : value;
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(
      {
        ...settings,
        secretId: Token.isUnresolved(targets.secretId) ? 'x'.repeat(TOKEN_ARN_BYTES) : targets.secretId,
        dataApi: {
          resourceArn: placeholder(targets.clusterArn, 'rds', 'cluster'),
          secretArn: placeholder(targets.credentialsSecretArn, 'secretsmanager', 'secret'),
          database: targets.databaseName,
          engine: targets.engine,
        },
      },
      'settings',
    );
  } catch (cause) {
    throw new PropsError((cause as Error).message, { scope, cause });
  }
  const bytes = Buffer.byteLength(JSON.stringify(config)) + OTHER_VARIABLES_BYTES;
  if (bytes > LAMBDA_ENVIRONMENT_BYTES) {
    throw new PropsError(
      `settings take about ${bytes} bytes as REKEY_CONFIG; Lambda allows ${LAMBDA_ENVIRONMENT_BYTES} for all environment variables (fewer tables or shorter names)`,
      { scope },
    );
  }
  return Stack.of(scope).toJsonString({
    ...config,
    secretId: targets.secretId,
    dataApi: { ...config.dataApi, resourceArn: targets.clusterArn, secretArn: targets.credentialsSecretArn },
  });
}
