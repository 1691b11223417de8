import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions } from '../../bench/options.js';
import { FULL_SPEED_PACING, parsePacing } from '../../bench/pacing.js';

describe('npm run bench options', () => {
  it('runs at 100 ms first, then 250, 10 and 0, with the default and full-speed pacing', () => {
    const o = parseOptions([]);
    assert.deepEqual(
      o.latencies.map((l) => l.label),
      ['100 ms', '250 ms', '10 ms', '0 ms'],
    );
    assert.deepEqual(
      o.pacing.map((p) => p.name),
      ['default', 'off'],
    );
    assert.equal(o.pacingRows, 1_000_000);
    // Its own database: the real-server suites' census reads every text column of theirs (`test`).
    assert.equal(new URL(o.pgUrl).pathname, '/rekey_bench');
  });

  it('takes 10m rows and spreads among the latencies', () => {
    const o = parseOptions(['--sizes', '10k,10m', '--latency', '100p50/270p90,0', '--latency-seed', '9']);
    assert.deepEqual(o.sizes, [10_000, 10_000_000]);
    assert.deepEqual(o.latencies[0], { label: '100 ms (p90 270)', p50Ms: 100, p90Ms: 270 });
    assert.equal(o.latencySeed, 9);
    assert.equal(o.pacingRows, 1_000_000);
    // Ten million rows at the headline latency only, unless asked for more.
    assert.equal(o.allLatenciesUpTo, 1_000_000);
    assert.equal(parseOptions(['--all-latencies-up-to', '10m']).allLatenciesUpTo, 10_000_000);
  });

  it('runs the app-latency runs at the largest size when it is smaller than a million', () => {
    assert.equal(parseOptions(['--sizes', '10k,100k']).pacingRows, 100_000);
    assert.equal(parseOptions(['--sizes', '10k', '--pacing-rows', '50k']).pacingRows, 50_000);
  });

  it('leaves the app out in quick mode and with --skip app', () => {
    assert.deepEqual(parseOptions(['--quick']).pacing, []);
    assert.deepEqual(parseOptions(['--skip', 'app']).pacing, []);
    assert.ok(parseOptions(['--skip', 'floors']).skip.has('floors'));
  });

  it('keeps a spread when --skip zero drops the 0 ms runs', () => {
    const o = parseOptions(['--latency', '100,0,100/270', '--skip', 'zero']);
    assert.deepEqual(
      o.latencies.map((l) => l.label),
      ['100 ms', '100 ms (p90 270)'],
    );
  });
});

describe('--pacing', () => {
  it('reads default, off and JSON objects, commas inside braces included', () => {
    const p = parsePacing('default,off,{"maxRowsPerSecond":5000,"maxConcurrentStatements":2}');
    assert.deepEqual(p[0], { name: 'default', config: undefined });
    assert.deepEqual(p[1], { name: 'off', config: FULL_SPEED_PACING });
    assert.deepEqual(p[2]?.config, { maxRowsPerSecond: 5000, maxConcurrentStatements: 2 });
  });

  it('names the entry it could not read', () => {
    assert.throws(() => parsePacing('default,slow'), /--pacing .*got 'slow'/);
    assert.throws(() => parsePacing('[1,2]'), RangeError);
  });
});
