import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from '../../bench/results.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run bench -- --quick', () => {
  let out: string;
  let status: number | null;
  let stdout: string;

  before(() => {
    out = mkdtempSync(join(tmpdir(), 'rekey-bench-test-'));
    // The embedded engine only, at 0 ms: no server to reach and no real time slept.
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--quick',
        '--engines',
        'pglite',
        '--latency',
        '0',
        '--skip',
        'baseline,cold-start',
        '--out',
        out,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    status = run.status;
    stdout = run.stdout;
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('rotates a small table through the local Data API and reports its throughput and calls', () => {
    assert.equal(status, 0);
    const file = readdirSync(out).find((f) => f.endsWith('-quick.json'));
    assert.ok(file, 'a <date>-<host>-quick.json file');
    const results = JSON.parse(readFileSync(join(out, file), 'utf8')) as BenchResults;
    const [run] = results.runs;
    assert.equal(run?.ok, true);
    assert.equal(run?.rowsLeft, 0);
    assert.ok((run?.setSecret?.rowsPerSec ?? 0) > 0);
    assert.ok((run?.setSecret?.callsPer1kRows ?? 0) > 0);
    assert.ok((run?.setSecret?.peakRssKb ?? 0) > 0);
    assert.ok((results.decrypt?.rk1DecryptPerSec ?? 0) > 0);
  });

  it('prints the Markdown table and leaves latest.md to full runs', () => {
    assert.match(stdout, /\| rekey \(Data API\) \| pglite \| 2,000 \| 0 ms \|/);
    assert.ok(!readdirSync(out).includes('latest.md'));
  });
});
