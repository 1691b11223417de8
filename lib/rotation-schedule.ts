import { type Duration, Token } from 'aws-cdk-lib';
import type { CfnRotationSchedule } from 'aws-cdk-lib/aws-secretsmanager';
import { PropsError } from './props-error.js';

/**
 * When Secrets Manager rotates the secret (UTC). Either an interval, or a `rate()`/`cron()` expression
 * as the service takes it; both with an optional rotation window. CDK's `addRotationSchedule` renders
 * only `rate()` and has no window, so rekey renders `RotationRules` itself ({@link rotationRules}).
 *
 * Service rules checked at synth time: `rate(N hours)` with N from 4 to 23, `rate(N days)` with N from
 * 1 to 999; `cron(0 H DOM MON DOW *)` with 0 minutes, `*` for the year, `?` in exactly one of the day
 * fields and windows at least 4 hours apart; a window of whole hours from 1 to 24 that does not run
 * into the next window or past the end of the UTC day.
 *
 * @example
 * const monthly: RotationScheduleSpec = { automaticallyAfter: Duration.days(30) };
 * const sundays: RotationScheduleSpec = { expression: 'cron(0 3 ? * SUN *)', window: Duration.hours(4) };
 */
export type RotationScheduleSpec =
  | {
      /** Rotate every this long: whole days (1 to 999) or 4 to 23 hours; windows open at midnight UTC. */
      readonly automaticallyAfter: Duration;
      /**
       * Window length, whole hours.
       * @default - one hour for hours, until the end of the UTC day for days
       */
      readonly window?: Duration;
    }
  | {
      /** A `rate(N hours|days)` or `cron(0 H DOM MON DOW *)` expression; a token is passed through. */
      readonly expression: string;
      /**
       * Window length, whole hours.
       * @default - one hour when windows open several times a day, else until the end of the UTC day
       */
      readonly window?: Duration;
    };

type Parsed =
  | { readonly kind: 'hours'; readonly every: number }
  | { readonly kind: 'days'; readonly every: number }
  | {
      readonly kind: 'cron';
      readonly hours: readonly number[];
      readonly day: string;
      readonly month: string;
      readonly weekDay: string;
    }
  | { readonly kind: 'token' };

const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
const DAY = `[1-7]|${DAY_NAMES.join('|')}`;
const MONTH = '\\d{1,2}|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const MIN_HOURS_APART = 4;
const MAX_DAYS = 999;

/**
 * The `RotationRules` of `AWS::SecretsManager::RotationSchedule` for a schedule: always a
 * `ScheduleExpression` (an interval becomes `rate()`), and `Duration` when a window is set.
 * @throws PropsError naming the rule of the service that the schedule breaks.
 */
export function rotationRules(spec: RotationScheduleSpec): CfnRotationSchedule.RotationRulesProperty {
  const { expression, window } = checkSchedule(spec);
  return {
    scheduleExpression: expression,
    ...(window === undefined ? {} : { duration: `${window}h` }),
  };
}

/**
 * An EventBridge `cron()` expression for the straggler sweep, `delay` after the last rotation window
 * of a rotation day closes: on the same days when the schedule names days and the sweep still falls on
 * that day (or, for plain weekdays, the next one); otherwise once a day, because the day of a `rate()`
 * rotation cannot be known in advance, and a daily sweep is also one some hours after each window.
 * @throws PropsError when the schedule is invalid, or `delay` is not 1 to 23 whole hours.
 */
export function sweepExpression(spec: RotationScheduleSpec, delay: Duration): string {
  const delayHours = delay.toHours({ integral: false });
  if (!Number.isInteger(delayHours) || delayHours < 1 || delayHours > 23) {
    throw new PropsError(`sweepDelay must be whole hours from 1 to 23, got ${delay.toHumanString()}`);
  }
  const { parsed: p, window } = checkSchedule(spec);
  const daily = (hour: number) => `cron(0 ${hour % 24} * * ? *)`;
  if (p.kind === 'token') return daily(delayHours);
  if (p.kind === 'days') return daily((window ?? 24) + delayHours);
  if (p.kind === 'hours') {
    const lastStart = Math.floor(23 / p.every) * p.every;
    return daily(lastStart + (window ?? 1) + delayHours);
  }
  const lastStart = p.hours[p.hours.length - 1] ?? 0;
  const close = lastStart + (window ?? (p.hours.length > 1 ? 1 : 24 - lastStart));
  const at = close + delayHours;
  if (p.day === '*' && p.month === '*' && p.weekDay === '?') return daily(at);
  if (at < 24) return `cron(0 ${at} ${p.day} ${p.month} ${p.weekDay} *)`;
  const nextDays = nextWeekDays(p);
  return nextDays ? `cron(0 ${at - 24} ? * ${nextDays} *)` : daily(at);
}

/** The expression, its parsed form and the window in hours, after every check. */
function checkSchedule(spec: RotationScheduleSpec): {
  expression: string;
  parsed: Parsed;
  window: number | undefined;
} {
  const expression =
    'automaticallyAfter' in spec ? intervalExpression(spec.automaticallyAfter) : spec.expression;
  const parsed = Token.isUnresolved(expression) ? ({ kind: 'token' } as const) : parseExpression(expression);
  const window = spec.window === undefined ? undefined : checkWindow(expression, parsed, spec.window);
  return { expression, parsed, window };
}

function intervalExpression(interval: Duration): string {
  const hours = interval.toHours({ integral: false });
  if (Number.isInteger(hours) && hours > 0 && hours % 24 === 0 && hours / 24 <= MAX_DAYS) {
    const days = hours / 24;
    return `rate(${days} ${days === 1 ? 'day' : 'days'})`;
  }
  if (Number.isInteger(hours) && hours >= MIN_HOURS_APART && hours < 24) return `rate(${hours} hours)`;
  throw new PropsError(
    `schedule.automaticallyAfter must be whole days (1 to ${MAX_DAYS}) or 4 to 23 hours, got ${interval.toHumanString()}`,
  );
}

function parseExpression(expression: string): Parsed {
  const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const every = Number(rate[1]);
    if (rate[2]?.startsWith('hour')) {
      if (every < MIN_HOURS_APART || every > 23) {
        fail(expression, `must rotate every 4 to 23 hours (use days beyond that), got ${every} hours`);
      }
      return { kind: 'hours', every };
    }
    if (every < 1 || every > MAX_DAYS)
      fail(expression, `must rotate every 1 to ${MAX_DAYS} days, got ${every}`);
    return { kind: 'days', every };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) fail(expression, 'must be rate(N days|hours) or cron(0 H DOM MON DOW *)');
  const fields = (cron?.[1] ?? '').trim().split(/\s+/);
  if (fields.length !== 6) {
    fail(
      expression,
      `must have 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [minutes, hourField, day, month, weekDay, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (minutes !== '0') {
    fail(expression, `must have the minutes field 0 (rotation windows open on the hour), got '${minutes}'`);
  }
  if (year !== '*') fail(expression, `must have '*' for the year, got '${year}'`);
  const hours = expandHours(expression, hourField);
  checkField(
    expression,
    'day-of-month',
    day,
    /^(\*|\?|L|LW|\d{1,2}W?(-\d{1,2})?(\/\d{1,2})?|\*\/\d{1,2})$/,
    31,
  );
  checkField(
    expression,
    'month',
    month,
    new RegExp(`^(\\*|(${MONTH})(-(${MONTH}))?(/\\d{1,2})?|\\*/\\d{1,2})$`),
    12,
  );
  checkField(
    expression,
    'day-of-week',
    weekDay,
    new RegExp(`^(\\*|\\?|L|(${DAY})(L|#[1-5])?|(${DAY})-(${DAY})(/\\d)?|\\*/\\d)$`),
    7,
  );
  if ((day === '?') === (weekDay === '?')) {
    fail(
      expression,
      `must have '?' in exactly one of day-of-month and day-of-week, got '${day}' and '${weekDay}'`,
    );
  }
  return { kind: 'cron', hours, day, month, weekDay };
}

/** The hours (0 to 23) at which windows open, sorted, from a cron hours field. */
function expandHours(expression: string, field: string): number[] {
  const hours = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|\d{1,2})(?:-(\d{1,2}))?(?:\/(\d{1,2}))?$/.exec(part);
    const from = m?.[1] === '*' ? 0 : Number(m?.[1]);
    const to = m?.[2] !== undefined ? Number(m[2]) : m?.[1] === '*' || m?.[3] !== undefined ? 23 : from;
    const step = m?.[3] !== undefined ? Number(m[3]) : 1;
    if (!m || from > 23 || to > 23 || from > to || step < 1) {
      fail(expression, `has an invalid hours field '${field}' (hours 0 to 23 with , - * /)`);
    }
    for (let h = from; h <= to; h += step) hours.add(h);
  }
  const sorted = [...hours].sort((a, b) => a - b);
  const gap = smallestGap(sorted);
  if (gap !== undefined && gap < MIN_HOURS_APART) {
    fail(
      expression,
      `opens windows every ${gap}h; Secrets Manager rotates at most every ${MIN_HOURS_APART} hours`,
    );
  }
  return sorted;
}

function checkField(expression: string, name: string, field: string, pattern: RegExp, max: number): void {
  for (const part of field.split(',')) {
    const beforeStep = part.split(/[/#]/)[0] ?? '';
    const outOfRange = (beforeStep.match(/\d+/g) ?? []).some((n) => Number(n) < 1 || Number(n) > max);
    if (!pattern.test(part) || outOfRange) fail(expression, `has an invalid ${name} field '${field}'`);
  }
}

/** The window in whole hours, after checking it fits the schedule. */
function checkWindow(expression: string, parsed: Parsed, window: Duration): number {
  const hours = window.toHours({ integral: false });
  if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
    throw new PropsError(`schedule.window must be whole hours from 1 to 24, got ${window.toHumanString()}`);
  }
  if (parsed.kind === 'hours' && hours > parsed.every) {
    throw new PropsError(
      `schedule.window ${hours}h runs into the next rotation window of '${expression}', which opens every ${parsed.every}h`,
    );
  }
  if (parsed.kind !== 'cron') return hours;
  const gap = smallestGap(parsed.hours);
  if (gap !== undefined && hours > gap) {
    throw new PropsError(
      `schedule.window ${hours}h runs into the next rotation window of '${expression}', which opens every ${gap}h`,
    );
  }
  const last = parsed.hours[parsed.hours.length - 1] ?? 0;
  if (last + hours > 24) {
    throw new PropsError(
      `schedule.window ${hours}h opened at ${last}:00 by '${expression}' runs past the end of the UTC day (at most ${24 - last}h)`,
    );
  }
  return hours;
}

function smallestGap(sorted: readonly number[]): number | undefined {
  let gap: number | undefined;
  for (let i = 1; i < sorted.length; i += 1) {
    const g = (sorted[i] ?? 0) - (sorted[i - 1] ?? 0);
    gap = gap === undefined ? g : Math.min(gap, g);
  }
  return gap;
}

/** The day-of-week field moved on by one day, when it is a plain list of days; else undefined. */
function nextWeekDays(p: Extract<Parsed, { kind: 'cron' }>): string | undefined {
  if (p.day !== '?' || p.month !== '*') return undefined;
  const next: string[] = [];
  for (const part of p.weekDay.split(',')) {
    const byName = DAY_NAMES.indexOf(part as (typeof DAY_NAMES)[number]);
    const index = byName >= 0 ? byName : /^[1-7]$/.test(part) ? Number(part) - 1 : -1;
    if (index < 0) return undefined;
    next.push(DAY_NAMES[(index + 1) % 7] ?? 'SUN');
  }
  return next.join(',');
}

function fail(expression: string, why: string): never {
  throw new PropsError(`schedule.expression '${expression}' ${why}`);
}
