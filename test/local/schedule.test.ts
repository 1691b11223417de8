import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextRotationDate, validateRotationRules } from '../../local/secrets-manager/schedule.js';

const from = Date.UTC(2025, 0, 15, 12, 0, 0); // a Wednesday

describe('rotation schedules', () => {
  it('puts the next rotation AutomaticallyAfterDays after the last one', () => {
    assert.equal(nextRotationDate({ AutomaticallyAfterDays: 30 }, from), from + 30 * 86_400_000);
  });

  it('reads rate() expressions in days and hours', () => {
    assert.equal(nextRotationDate({ ScheduleExpression: 'rate(10 days)' }, from), from + 10 * 86_400_000);
    assert.equal(nextRotationDate({ ScheduleExpression: 'rate(6 hours)' }, from), from + 6 * 3_600_000);
  });

  it('finds the next time a cron() expression fires', () => {
    assert.equal(
      nextRotationDate({ ScheduleExpression: 'cron(0 16 1,15 * ? *)' }, from),
      Date.UTC(2025, 0, 15, 16),
    );
    assert.equal(
      nextRotationDate({ ScheduleExpression: 'cron(0 8 ? * MON *)' }, from),
      Date.UTC(2025, 0, 20, 8),
    );
    assert.equal(
      nextRotationDate({ ScheduleExpression: 'cron(30 2 L * ? *)' }, from),
      Date.UTC(2025, 0, 31, 2, 30),
    );
  });

  it('refuses both AutomaticallyAfterDays and ScheduleExpression', () => {
    assert.throws(
      () => validateRotationRules({ AutomaticallyAfterDays: 3, ScheduleExpression: 'rate(3 days)' }),
      (e: Error & { type?: string }) => e.type === 'InvalidParameterException',
    );
  });

  it('refuses out-of-range values, naming the value', () => {
    for (const rules of [
      { AutomaticallyAfterDays: 0 },
      { ScheduleExpression: 'rate(2 hours)' },
      { ScheduleExpression: 'cron(0 16 1 * MON *)' },
      { ScheduleExpression: 'every day' },
      { AutomaticallyAfterDays: 3, Duration: '25h' },
    ]) {
      assert.throws(
        () => validateRotationRules(rules),
        /InvalidParameter|must|range|exactly|got/,
        JSON.stringify(rules),
      );
    }
  });
});
