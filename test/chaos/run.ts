/**
 * `npm run test:chaos`: runs every test/chaos/*.chaos-test.ts file (two at a time: the machine has two
 * cores), keeps all of their output, then checks that output as a whole for secret material (every
 * secret value, key and plaintext the files registered) and prints the summary line with the figures
 * the files reported. Exits non-zero when a test failed or anything leaked.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChaosFigures, findLeaks } from '../support/chaos-hygiene.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'rekey-chaos-run-'));
const files = readdirSync(join(ROOT, 'test/chaos'))
  .filter((f) => f.endsWith('.chaos-test.ts'))
  .sort()
  .map((f) => join('test/chaos', f));

for (const [name, why] of [
  ['REKEY_TEST_PG_URL', 'real PostgreSQL parts skip'],
  ['REKEY_TEST_MYSQL_URL', 'MariaDB parts skip'],
] as const) {
  if (!process.env[name]) console.log(`chaos: ${name} is not set: the ${why}`);
}

const output: string[] = [];
const code = await new Promise<number>((resolve) => {
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['--test', '--test-concurrency=2', ...files], {
    cwd: ROOT,
    env: { ...process.env, REKEY_CHAOS_DIR: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => {
    output.push(d.toString());
    process.stdout.write(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    output.push(d.toString());
    process.stderr.write(d);
  });
  child.on('close', (c) => resolve(c ?? 1));
});

const figures: Required<ChaosFigures> = {
  embeddedPoints: 0,
  postgresPoints: 0,
  processKills: 0,
  faults: 0,
  appWrites: 0,
  hostile: 0,
  rotations: 0,
  readers: 0,
  operatorRaces: 0,
  lost: 0,
};
const forbidden = new Set<string>();
for (const f of readdirSync(dir)) {
  const lines = readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean);
  if (f.startsWith('figures-')) {
    for (const line of lines) {
      for (const [k, v] of Object.entries(JSON.parse(line) as ChaosFigures)) {
        figures[k as keyof ChaosFigures] += v ?? 0;
      }
    }
  } else if (f.startsWith('forbidden-')) {
    for (const line of lines) forbidden.add(JSON.parse(line) as string);
  }
}
rmSync(dir, { recursive: true, force: true });

const leaks = findLeaks([output.join('')], forbidden);
const points = figures.embeddedPoints + figures.postgresPoints + figures.processKills;
const seconds = Math.round((Date.now() - started) / 1000);
console.log(
  `chaos hygiene: ${output.join('').length} characters of test output checked against ${forbidden.size} secret strings and every plaintext: ${leaks.length === 0 ? 'clean' : `${leaks.length} LEAKS (${leaks.join('; ')})`}`,
);
console.log(
  `chaos: interruption points tried ${points} (embedded ${figures.embeddedPoints}, postgres ${figures.postgresPoints}, process kills ${figures.processKills}), faults injected ${figures.faults}, rotations ${figures.rotations}, readers ${figures.readers}, app writes checked ${figures.appWrites}, operator races ${figures.operatorRaces}, hostile inputs tried ${figures.hostile}, items lost: ${code === 0 ? figures.lost : 'unknown (tests failed)'} [${seconds} s]`,
);
process.exitCode = code !== 0 || leaks.length > 0 ? 1 : 0;
