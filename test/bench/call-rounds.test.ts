import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callRounds, type TimedCall } from '../../bench/call-rounds.js';

const call = (startedAt: number, endedAt: number, page = false): TimedCall => ({ startedAt, endedAt, page });

describe('callRounds', () => {
  it('counts calls sent one after another as one round each', () => {
    assert.deepEqual(callRounds([call(0, 100), call(101, 200), call(205, 300)]), {
      calls: 3,
      rounds: 3,
      beforeFirstPage: 3,
      mostInFlight: 1,
    });
  });

  it('counts calls sent side by side as one round', () => {
    const r = callRounds([call(0, 100, true), call(1, 120, true), call(2, 90, true), call(3, 110, true)]);
    assert.equal(r.rounds, 1);
    assert.equal(r.mostInFlight, 4);
    assert.equal(r.beforeFirstPage, 0);
  });

  it('counts the lookups before the first page, and pages held to two in flight', () => {
    const r = callRounds([
      call(0, 100), // lookup
      call(101, 200), // count, sent once the lookup was answered
      call(201, 300, true),
      call(201, 310, true),
      call(300, 400, true), // takes the place of the first page the instant it is answered
      call(311, 410, true),
      call(401, 500, true),
    ]);
    assert.equal(r.beforeFirstPage, 2);
    assert.equal(r.rounds, 5);
    assert.equal(r.mostInFlight, 2);
  });

  it('finds the longest chain whatever order the calls come in', () => {
    const calls = [call(250, 350, true), call(0, 100), call(120, 240, true), call(10, 300, true)];
    const r = callRounds(calls);
    assert.equal(r.rounds, 3);
    assert.equal(r.beforeFirstPage, 0);
  });

  it('answers zeros for no calls', () => {
    assert.deepEqual(callRounds([]), { calls: 0, rounds: 0, beforeFirstPage: 0, mostInFlight: 0 });
  });
});
