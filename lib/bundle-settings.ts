import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

/**
 * The Node.js major version the rotation function runs on: `ROTATION_RUNTIME` in
 * lib/rotation-function.ts is this version's Lambda runtime, and the bundle targets it.
 */
export const ROTATION_NODE_MAJOR = 24;

/** The rotation Lambda's entry in the repository's sources; `lib` refers to the Lambda by this path only. */
export const ROTATION_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));

/** The file the bundle is written to, inside the asset directory. */
export const ROTATION_ASSET_FILE = 'index.mjs';

/** The Lambda handler setting that runs {@link ROTATION_ASSET_FILE}'s `handler` export. */
export const ROTATION_HANDLER = 'index.handler';

/**
 * Where `npm run build` writes the prebuilt asset in the repository (`dist/rotation-asset`), and so where
 * the published package holds it: next to `dist/lib`.
 */
export const REPO_ASSET_DIR = fileURLToPath(new URL('../dist/rotation-asset', import.meta.url));

/**
 * The one set of esbuild options the rotation function is bundled with: by lib/build-asset.ts (the
 * prebuilt asset the package ships), by lib/rotation-function.ts when it runs from the repository's
 * sources, and by the benchmark (bench/build.ts), so what is measured is what is deployed.
 *
 * ESM on the runtime's Node.js version, minified, with an external source map (the function runs with
 * `--enable-source-maps`). Nothing is external: the SDK clients are bundled, not taken from the runtime,
 * because rekey matches SDK errors by class and is tested against the pinned `@aws-sdk` versions, while
 * the runtime's copy changes under a deployed function without notice. The cost, a larger bundle, is
 * paid once per cold start of a function that runs a few times a month.
 */
export const ROTATION_BUNDLE = Object.freeze({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: `node${ROTATION_NODE_MAJOR}`,
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  // ESM output still meets CommonJS dependencies that call require().
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  external: [],
  logLevel: 'error',
} satisfies BuildOptions);

/**
 * {@link ROTATION_BUNDLE} for the rotation entry, kept in memory (`write: false`) as if written to
 * {@link REPO_ASSET_DIR}: the source map's paths, and with them the asset's hash, are the same wherever
 * the files are then written.
 */
export function rotationAssetBuild() {
  return {
    ...ROTATION_BUNDLE,
    entryPoints: [ROTATION_ENTRY],
    outfile: join(REPO_ASSET_DIR, ROTATION_ASSET_FILE),
    write: false,
  } satisfies BuildOptions;
}
