import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ROTATION_PROCESS_ENV } from './rotation-process.js';

/** The rotation Lambda's entry; `lib` refers to the Lambda by this path only. */
export const ROTATION_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCK_FILE = fileURLToPath(new URL('../package-lock.json', import.meta.url));

/** The newest Node.js runtime this aws-cdk-lib knows, and esbuild's matching target. */
export const ROTATION_RUNTIME = Runtime.NODEJS_24_X;
const ESBUILD_TARGET = 'node24';

/** Lambda's maximum, for large tables (CDK's default is 3 seconds); setSecret stops before it. */
export const ROTATION_TIMEOUT = Duration.minutes(15);

/** How the rotation function is built. */
export interface RotationFunctionProps {
  /** The role it runs as. */
  readonly role: IRole;
  /** Its log group. */
  readonly logGroup: ILogGroup;
  /** `REKEY_CONFIG`, as JSON (ARNs and names only). */
  readonly rekeyConfig: string;
  /** Memory in MB (CPU grows with it; pages are decrypted and encrypted in memory). */
  readonly memorySize: number;
  /** Reserved concurrency, at least 10 when set. */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The rotation function (`Function` in `scope`): esbuild-bundled ESM with source maps, arm64, a
 * 15-minute timeout, and its whole configuration in `REKEY_CONFIG`.
 */
export function createRotationFunction(scope: Construct, props: RotationFunctionProps): NodejsFunction {
  return new NodejsFunction(scope, 'Function', {
    entry: ROTATION_ENTRY,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: LOCK_FILE,
    runtime: ROTATION_RUNTIME,
    architecture: Architecture.ARM_64,
    memorySize: props.memorySize,
    timeout: ROTATION_TIMEOUT,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    role: props.role,
    logGroup: props.logGroup,
    description: 'rekey: rotates the app secret and re-encrypts its stored fields',
    environment: {
      REKEY_CONFIG: props.rekeyConfig,
      ...ROTATION_PROCESS_ENV,
    },
    bundling: {
      format: OutputFormat.ESM,
      target: ESBUILD_TARGET,
      mainFields: ['module', 'main'],
      sourceMap: true,
      minify: true,
      // ESM output still meets CommonJS dependencies that call require().
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      // The SDK clients are bundled, not taken from the runtime: rekey matches SDK errors by class and
      // is tested against the pinned @aws-sdk versions, while the runtime's copy changes under a
      // deployed function without notice. The cost, a larger bundle, is paid once per cold start of a
      // function that runs a few times a month.
      bundleAwsSDK: true,
    },
  });
}
