import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  chooseMemory,
  cpuShare,
  DEPLOYED_MEMORY_MB,
  deployedHeapLimitMb,
  project,
} from '../../bench/lambda-cost.js';

describe('what a step costs in Lambda', () => {
  it('gives a share of one vCPU proportional to memory, capped at one', () => {
    assert.equal(cpuShare(1769), 1);
    assert.equal(cpuShare(3008), 1);
    assert.ok(Math.abs(cpuShare(1024) - 1024 / 1769) < 1e-12);
  });

  it('keeps the measured time while the CPU fits in the share, and stretches it when it does not', () => {
    // 100k rows, 10 s waiting on calls, 2 s of CPU: latency-bound at 1,024 MB.
    const waiting = project({ rows: 100_000, wallMs: 10_000, cpuMs: 2_000 }, 1024);
    assert.equal(waiting.secondsPerMillion, 100);
    assert.equal(waiting.gbSecondsPerMillion, 100);
    assert.ok(Math.abs(waiting.cpuCeilingRowsPerSec - (100_000 * (1024 / 1769)) / 2) < 1e-6);
    // The same CPU at 256 MB needs 2 / (256/1769) = 13.8 s: CPU-bound.
    const starved = project({ rows: 100_000, wallMs: 10_000, cpuMs: 2_000 }, 256);
    assert.ok(Math.abs(starved.secondsPerMillion - 20 / (256 / 1769) / 1) < 1e-6);
    assert.equal(starved.cpuUtilization, 1);
  });

  it('chooses the cheapest memory that does not slow the rotation down', () => {
    const choice = chooseMemory(
      {
        setSecret: { rows: 1_000_000, wallMs: 80_000, cpuMs: 20_000 },
        testSecret: { rows: 1_000_000, wallMs: 40_000, cpuMs: 10_000 },
        peakRssKb: 90 * 1024,
      },
      [512, 1024, 1769, 3008],
      undefined,
    );
    // At 512 MB the CPU would use 20 / (0.289 × 80) = 86% of its share: too close to stretch-free.
    assert.equal(choice.memoryMb, 1024);
    assert.match(choice.reason, /^1024 MB: /);
    assert.equal(choice.options.length, 4);
  });

  it('takes the fastest memory when every one is CPU-bound', () => {
    const choice = chooseMemory(
      { setSecret: { rows: 1_000_000, wallMs: 20_000, cpuMs: 20_000 }, peakRssKb: 90 * 1024 },
      [512, 1024, 1769],
      undefined,
    );
    assert.equal(choice.memoryMb, 1769);
    assert.match(choice.reason, /fastest/);
  });

  it('leaves out a memory that cannot hold twice the peak RSS', () => {
    const choice = chooseMemory(
      { setSecret: { rows: 1_000_000, wallMs: 100_000, cpuMs: 5_000 }, peakRssKb: 300 * 1024 },
      [512, 1024],
      undefined,
    );
    assert.equal(choice.memoryMb, 1024);
  });

  it('says when the deployed heap limit would have to come down with the memory', () => {
    const choice = chooseMemory(
      { setSecret: { rows: 1_000_000, wallMs: 100_000, cpuMs: 5_000 }, peakRssKb: 90 * 1024 },
      [512, 1024],
      512,
    );
    assert.equal(choice.memoryMb, 512);
    assert.match(choice.reason, /max-old-space-size/);
    assert.equal(deployedHeapLimitMb('--enable-source-maps --max-old-space-size=384'), 384);
    assert.equal(deployedHeapLimitMb('--enable-source-maps'), undefined);
  });

  it('projects to the memory the stack deploys by default', () => {
    const construct = readFileSync(new URL('../../lib/app-secret-rotation.ts', import.meta.url), 'utf8');
    const m = /const DEFAULT_MEMORY_MB = (\d+);/.exec(construct);
    assert.ok(m, 'lib/app-secret-rotation.ts names its default memorySize DEFAULT_MEMORY_MB');
    assert.match(construct, /memorySize: props\.memorySize \?\? DEFAULT_MEMORY_MB/);
    assert.equal(DEPLOYED_MEMORY_MB, Number(m[1]));
  });
});
