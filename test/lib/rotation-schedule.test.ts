import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration, Lazy } from 'aws-cdk-lib';
import { PropsError, rotationRules, sweepExpression } from '../../lib/index.js';

const SIX_HOURS = Duration.hours(6);

describe('rotation rules', () => {
  it('renders an interval in days as a rate expression without a window by default', () => {
    assert.deepEqual(rotationRules({ automaticallyAfter: Duration.days(30) }), {
      scheduleExpression: 'rate(30 days)',
    });
    assert.deepEqual(rotationRules({ automaticallyAfter: Duration.days(1) }), {
      scheduleExpression: 'rate(1 day)',
    });
  });

  it('renders an interval in hours as rate(N hours) and a window as Duration', () => {
    assert.deepEqual(rotationRules({ automaticallyAfter: Duration.hours(8), window: Duration.hours(2) }), {
      scheduleExpression: 'rate(8 hours)',
      duration: '2h',
    });
  });

  it('renders a cron expression with its window as the service takes them', () => {
    assert.deepEqual(rotationRules({ expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) }), {
      scheduleExpression: 'cron(0 3 ? * SUN *)',
      duration: '4h',
    });
  });

  it('accepts the cron forms the service documents', () => {
    for (const expression of [
      'cron(0 4/12 * * ? *)',
      'cron(0 8 1/7 * ? *)',
      'cron(0 0 ? * SUN#1 *)',
      'cron(0 16 L * ? *)',
      'cron(0 2 ? JAN,APR,JUL,OCT MON-FRI *)',
      'cron(0 0,6,12,18 * * ? *)',
    ]) {
      assert.doesNotThrow(() => rotationRules({ expression }), expression);
    }
  });

  it('accepts a window that ends exactly at midnight', () => {
    assert.doesNotThrow(() =>
      rotationRules({ automaticallyAfter: Duration.days(1), window: Duration.hours(24) }),
    );
    assert.doesNotThrow(() => rotationRules({ expression: 'cron(0 20 * * ? *)', window: Duration.hours(4) }));
  });

  it('passes a token expression through unchecked', () => {
    const expression = Lazy.string({ produce: () => 'rate(7 days)' });
    assert.equal(rotationRules({ expression }).scheduleExpression, expression);
  });
});

describe('schedule validation', () => {
  const refuses = (spec: Parameters<typeof rotationRules>[0], message: RegExp) =>
    assert.throws(
      () => rotationRules(spec),
      (e: Error) => e instanceof PropsError && message.test(e.message),
    );

  it('refuses a cron expression whose minutes are not 0, because windows open on the hour', () => {
    refuses(
      { expression: 'cron(15 3 * * ? *)' },
      /schedule\.expression 'cron\(15 3 \* \* \? \*\)' must have the minutes field 0/,
    );
  });

  it('reports a schedule checked on its own without a construct path, which the construct adds', () => {
    assert.throws(
      () => rotationRules({ expression: 'cron(15 3 * * ? *)' }),
      (e: Error) =>
        e instanceof PropsError &&
        e.constructPath === undefined &&
        e.message.startsWith("schedule.expression 'cron(15 3 * * ? *)'"),
    );
  });

  it('refuses a cron expression with a year other than *', () => {
    refuses({ expression: 'cron(0 3 * * ? 2027)' }, /must have '\*' for the year, got '2027'/);
  });

  it('refuses a cron expression without ? in exactly one day field', () => {
    refuses({ expression: 'cron(0 3 * * MON *)' }, /'\?' in exactly one of day-of-month and day-of-week/);
    refuses({ expression: 'cron(0 3 ? * ? *)' }, /'\?' in exactly one/);
  });

  it('refuses invalid hours, days, months and week days, naming the field', () => {
    refuses({ expression: 'cron(0 24 * * ? *)' }, /invalid hours field '24'/);
    refuses({ expression: 'cron(0 3 32 * ? *)' }, /invalid day-of-month field '32'/);
    refuses({ expression: 'cron(0 3 * 13 ? *)' }, /invalid month field '13'/);
    refuses({ expression: 'cron(0 3 ? * FUNDAY *)' }, /invalid day-of-week field 'FUNDAY'/);
    refuses({ expression: 'cron(0 3 * * ?)' }, /must have 6 fields/);
  });

  it('refuses windows that open less than 4 hours apart', () => {
    refuses(
      { expression: 'cron(0 */2 * * ? *)' },
      /opens windows every 2h; Secrets Manager rotates at most every 4 hours/,
    );
    refuses({ expression: 'rate(3 hours)' }, /every 4 to 23 hours/);
    refuses(
      { automaticallyAfter: Duration.hours(2) },
      /schedule\.automaticallyAfter must be whole days \(1 to 999\) or 4 to 23 hours, got 2 hours/,
    );
  });

  it('refuses intervals the service cannot express', () => {
    refuses({ automaticallyAfter: Duration.hours(36) }, /whole days .* got 1 day 12 hours/);
    refuses({ automaticallyAfter: Duration.days(1000) }, /whole days \(1 to 999\)/);
    refuses({ expression: 'rate(0 days)' }, /every 1 to 999 days/);
    refuses({ expression: 'every tuesday' }, /must be rate\(N days\|hours\) or cron\(0 H DOM MON DOW \*\)/);
  });

  it('refuses a window that runs into the next rotation window', () => {
    refuses(
      { expression: 'rate(6 hours)', window: Duration.hours(8) },
      /window 8h runs into the next rotation window of 'rate\(6 hours\)', which opens every 6h/,
    );
    refuses({ expression: 'cron(0 */6 * * ? *)', window: Duration.hours(8) }, /which opens every 6h/);
  });

  it('refuses a window that runs past the end of the UTC day', () => {
    refuses(
      { expression: 'cron(0 22 * * ? *)', window: Duration.hours(3) },
      /opened at 22:00 .* runs past the end of the UTC day \(at most 2h\)/,
    );
  });

  it('refuses a window that is not whole hours from 1 to 24', () => {
    refuses(
      { automaticallyAfter: Duration.days(7), window: Duration.minutes(90) },
      /schedule\.window must be whole hours from 1 to 24, got 1 hour 30 minutes/,
    );
    refuses({ automaticallyAfter: Duration.days(7), window: Duration.hours(25) }, /from 1 to 24/);
  });
});

describe('sweep schedule', () => {
  it('sweeps on the rotation days, the delay after a cron window closes', () => {
    assert.equal(
      sweepExpression({ expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) }, SIX_HOURS),
      'cron(0 13 ? * SUN *)',
    );
    assert.equal(
      sweepExpression({ expression: 'cron(0 1 1 * ? *)', window: Duration.hours(2) }, SIX_HOURS),
      'cron(0 9 1 * ? *)',
    );
  });

  it('moves plain week days on by one when the sweep falls after midnight', () => {
    assert.equal(
      sweepExpression({ expression: 'cron(0 20 ? * SAT,3 *)', window: Duration.hours(2) }, SIX_HOURS),
      'cron(0 4 ? * SUN,WED *)',
    );
  });

  it('sweeps daily when the next day cannot be named simply', () => {
    assert.equal(
      sweepExpression({ expression: 'cron(0 20 L * ? *)', window: Duration.hours(2) }, SIX_HOURS),
      'cron(0 4 * * ? *)',
    );
  });

  it('sweeps daily after the default window of a rate schedule, which closes at the end of the day', () => {
    assert.equal(sweepExpression({ automaticallyAfter: Duration.days(30) }, SIX_HOURS), 'cron(0 6 * * ? *)');
    assert.equal(
      sweepExpression({ automaticallyAfter: Duration.days(30), window: Duration.hours(3) }, SIX_HOURS),
      'cron(0 9 * * ? *)',
    );
  });

  it('sweeps once a day after the last window of a schedule with several windows a day', () => {
    assert.equal(sweepExpression({ expression: 'rate(8 hours)' }, SIX_HOURS), 'cron(0 23 * * ? *)');
    assert.equal(
      sweepExpression({ expression: 'cron(0 4/12 * * ? *)' }, Duration.hours(2)),
      'cron(0 19 * * ? *)',
    );
  });

  it('refuses a delay that is not 1 to 23 whole hours', () => {
    assert.throws(
      () => sweepExpression({ automaticallyAfter: Duration.days(30) }, Duration.hours(0)),
      /sweepDelay must be whole hours from 1 to 23, got 0 hours/,
    );
    assert.throws(
      () => sweepExpression({ automaticallyAfter: Duration.days(30) }, Duration.minutes(30)),
      /sweepDelay/,
    );
  });
});
