import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const APP_ENTRY = fileURLToPath(new URL('../../local/single-key-app/main.ts', import.meta.url));

/**
 * The local single-key app bundled into one JavaScript file, so each of its processes starts as a
 * deployed container's would, with plain `node` and no transpiler: from the sources through tsx a start
 * takes about three times as long, which would be measured as restart time that no deployment has.
 * @returns the file, and the function that deletes it.
 * @throws esbuild's error when the bundle fails.
 */
export async function bundleSingleKeyApp(): Promise<{ entry: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-single-key-app-'));
  const entry = join(dir, 'app.mjs');
  await build({
    entryPoints: [APP_ENTRY],
    outfile: entry,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    // ESM output still meets CommonJS dependencies that call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return { entry, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
