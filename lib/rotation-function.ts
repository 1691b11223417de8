import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  ROTATION_ASSET_FILE,
  ROTATION_ENTRY,
  ROTATION_HANDLER,
  rotationAssetBuild,
} from './bundle-settings.js';
import { ROTATION_PROCESS_ENV } from './rotation-process.js';

export { ROTATION_ENTRY };

/**
 * The prebuilt asset next to this module: `dist/rotation-asset` beside `dist/lib`, as the package ships
 * it. Running from the repository's sources (`lib/*.ts`) there is none and the asset is bundled at synth.
 */
const PREBUILT_ASSET_DIR = fileURLToPath(new URL('../rotation-asset', import.meta.url));

/** The newest Node.js runtime this aws-cdk-lib knows; lib/bundle-settings.ts targets the same version. */
export const ROTATION_RUNTIME = Runtime.NODEJS_24_X;

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
 * The rotation function (`Function` in `scope`): the esbuild-bundled ESM with source maps of
 * lib/bundle-settings.ts, arm64, a 15-minute timeout, and its whole configuration in `REKEY_CONFIG`.
 * From the published package it deploys the prebuilt asset (no esbuild, no lock file needed); from the
 * repository's sources it bundles lambda/handler.ts at synth with the same settings, so what is deployed
 * is always the code in the working tree.
 * @throws Error when the package's prebuilt asset is missing.
 */
export function createRotationFunction(scope: Construct, props: RotationFunctionProps): LambdaFunction {
  return new LambdaFunction(scope, 'Function', {
    code: rotationCode(scope),
    handler: ROTATION_HANDLER,
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
  });
}

function rotationCode(scope: Construct): Code {
  if (existsSync(join(PREBUILT_ASSET_DIR, ROTATION_ASSET_FILE))) return Code.fromAsset(PREBUILT_ASSET_DIR);
  if (existsSync(ROTATION_ENTRY)) return bundledFromSource();
  throw new Error(
    `${scope.node.path}: rekey's prebuilt rotation asset is missing (${join(PREBUILT_ASSET_DIR, ROTATION_ASSET_FILE)}): ` +
      'reinstall the package; in the rekey repository run `npm run build`',
  );
}

/**
 * The repository's case: CDK asset bundling that runs esbuild in process. It honours the
 * `aws:cdk:bundling-stacks` context as every bundled asset does, so template tests skip it, and the
 * asset's hash is that of its output.
 */
function bundledFromSource(): Code {
  return Code.fromAsset(dirname(ROTATION_ENTRY), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling always runs or throws. The name says so in the asset manifest.
      image: DockerImage.fromRegistry('rekey-bundles-locally-with-esbuild'),
      local: {
        tryBundle(outputDir: string): boolean {
          writeRotationAsset(outputDir);
          return true;
        },
      },
    },
  });
}

/**
 * Bundles the rotation function into `dir` (`index.mjs` and its source map).
 * @throws Error naming esbuild when it is not installed (the repository's devDependencies have it), or
 *   esbuild's error when the bundle fails.
 */
export function writeRotationAsset(dir: string): void {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  } catch (cause) {
    throw new Error('bundling the rotation function from source needs esbuild: run `npm ci`', { cause });
  }
  const result = esbuild.buildSync(rotationAssetBuild());
  mkdirSync(dir, { recursive: true });
  for (const file of result.outputFiles ?? []) writeFileSync(join(dir, basename(file.path)), file.contents);
}
