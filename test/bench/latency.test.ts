import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { parseLatency } from '../../bench/latency-option.js';
import { LOCAL_CLUSTER_ARN, LOCAL_DB_SECRET_ARN, startDataApi } from '../../local/index.js';
import { latencyMedian, latencySampler } from '../../local/rds-data/latency.js';
import type { LatencySpec } from '../../local/rds-data.js';

const draws = (spec: LatencySpec, n: number) => {
  const next = latencySampler(spec);
  return Array.from({ length: n }, () => next());
};
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
};

describe('the local Data API latency', () => {
  it('waits a constant the same on every call', () => {
    assert.deepEqual(draws(25, 3), [25, 25, 25]);
  });

  it('draws a spread whose median and p90 are the ones asked for', () => {
    const values = draws({ p50: 100, p90: 270, seed: 7 }, 20_000);
    assert.ok(Math.abs(quantile(values, 0.5) - 100) < 5, `median ${quantile(values, 0.5)}`);
    assert.ok(Math.abs(quantile(values, 0.9) - 270) < 15, `p90 ${quantile(values, 0.9)}`);
    assert.ok(values.every((v) => v > 0 && Number.isFinite(v)));
  });

  it('repeats the same draws for the same seed and others for another', () => {
    assert.deepEqual(draws({ p50: 100, p90: 270, seed: 3 }, 50), draws({ p50: 100, p90: 270, seed: 3 }, 50));
    assert.notDeepEqual(
      draws({ p50: 100, p90: 270, seed: 3 }, 50),
      draws({ p50: 100, p90: 270, seed: 4 }, 50),
    );
  });

  it('refuses a negative constant, a spread whose p90 is below its median, and a bad draw', () => {
    assert.throws(() => latencySampler(-1), RangeError);
    assert.throws(() => latencySampler(Number.NaN), RangeError);
    assert.throws(() => latencySampler({ p50: 0, p90: 10 }), RangeError);
    assert.throws(() => latencySampler({ p50: 100, p90: 50 }), RangeError);
    assert.throws(() => latencySampler(() => -5)(), RangeError);
  });

  it('gives the median of a constant or a spread, and none for a function', () => {
    assert.equal(latencyMedian(10), 10);
    assert.equal(latencyMedian({ p50: 100, p90: 270 }), 100);
    assert.equal(
      latencyMedian(() => 1),
      undefined,
    );
  });

  it('draws each call of the Data API from the spread, and counts what they waited until a reset', async () => {
    const slept: number[] = [];
    const api = await startDataApi({
      engine: 'pglite',
      latencyMs: { p50: 100, p90: 270, seed: 5 },
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    const client = new RDSDataClient({
      endpoint: api.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const target = { resourceArn: LOCAL_CLUSTER_ARN, secretArn: LOCAL_DB_SECRET_ARN, database: 'postgres' };
      for (let i = 0; i < 3; i++)
        await client.send(new ExecuteStatementCommand({ ...target, sql: 'SELECT 1' }));
      assert.deepEqual(slept, draws({ p50: 100, p90: 270, seed: 5 }, 3));
      assert.equal(
        api.dataApi.latencyWaitedMs(),
        slept.reduce((a, b) => a + b, 0),
      );
      api.dataApi.resetStats();
      assert.equal(api.dataApi.latencyWaitedMs(), 0);
      assert.throws(() => api.dataApi.setLatency({ p50: 10, p90: 5 }), RangeError);
      assert.throws(() => api.dataApi.setLatency(-1), RangeError);
    } finally {
      client.destroy();
      await api.close();
    }
  });

  it('refuses a bad latency when the Data API starts', async () => {
    await assert.rejects(
      () => startDataApi({ engine: 'pglite', latencyMs: { p50: -1, p90: 5 } }),
      RangeError,
    );
  });
});

describe('--latency', () => {
  it('reads constants and spreads in either spelling', () => {
    assert.deepEqual(parseLatency('100'), { label: '100 ms', p50Ms: 100 });
    assert.deepEqual(parseLatency('0'), { label: '0 ms', p50Ms: 0 });
    assert.deepEqual(parseLatency('100p50/270p90'), { label: '100 ms (p90 270)', p50Ms: 100, p90Ms: 270 });
    assert.deepEqual(parseLatency('100/270'), parseLatency('100p50/270p90'));
  });

  it('names the flag and the value it could not read', () => {
    assert.throws(() => parseLatency('fast'), /--latency .*got 'fast'/);
    assert.throws(() => parseLatency('270/100'), /--latency .*got '270\/100'/);
    assert.throws(() => parseLatency('-5'), RangeError);
  });
});
