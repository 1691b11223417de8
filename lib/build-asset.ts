// `npm run build`'s bundling step (`npm run build:dist`): bundles the rotation function with
// lib/bundle-settings.ts into dist/rotation-asset (index.mjs and its source map), the prebuilt asset
// the package ships and dist/lib/rotation-function.js deploys. With --clean it first empties dist/, so
// that tsc's output, which follows, holds no file whose source is gone.
import { rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ASSET_DIR, ROTATION_ASSET_FILE } from './bundle-settings.js';
import { writeRotationAsset } from './rotation-function.js';

rmSync(process.argv.includes('--clean') ? dirname(REPO_ASSET_DIR) : REPO_ASSET_DIR, {
  recursive: true,
  force: true,
});
writeRotationAsset(REPO_ASSET_DIR);
const file = join(REPO_ASSET_DIR, ROTATION_ASSET_FILE);
const kib = (statSync(file).size / 1024).toFixed(0);
process.stdout.write(`rotation asset: ${relative(process.cwd(), file)} (${kib} KiB) and its source map\n`);
