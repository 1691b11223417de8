import { Duration, Token } from 'aws-cdk-lib';
import type { CfnRotationSchedule } from 'aws-cdk-lib/aws-secretsmanager';
import { PropsError } from './props-error.js';

/** Options shared by every kind of rotation schedule. */
export interface RotationWindowOptions {
  /**
   * How long the rotation window stays open: Secrets Manager starts the rotation at any time within
   * it. Whole hours, 1 to 24; it must not run into the next window or past the end of the UTC day.
   *
   * @default - the service's default: one hour for schedules with several windows a day, until the
   * end of the UTC day otherwise
   */
  readonly window?: Duration;
}

/**
 * A rotation schedule as cron fields (UTC). The minutes field is always 0 (windows open on the hour)
 * and the year field always `*`: the service accepts nothing else.
 */
export interface RekeyCronOptions extends RotationWindowOptions {
  /** Hours at which windows open: `4`, `'2,14'`, `'4/12'`, `'0-20/5'` (0 to 23, at least 4 hours apart). */
  readonly hour: number | string;
  /**
   * Day of the month: `1` to `31`, `L`, `15W`, lists, ranges, steps.
   * @default - `*`, or `?` when `weekDay` is given
   */
  readonly day?: string;
  /**
   * Month: `1` to `12` or `JAN` to `DEC`, lists, ranges, steps.
   * @default '*'
   */
  readonly month?: string;
  /**
   * Day of the week: `1` to `7` or `SUN` to `SAT`, `MON-FRI`, `SUN#1`, `6L`.
   * @default '?'
   */
  readonly weekDay?: string;
}

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
const MONTH_NAMES = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const MIN_HOURS_APART = 4;
const MAX_DAYS = 999;

/**
 * When Secrets Manager rotates the secret: a `rate()` or `cron()` expression with a rotation window,
 * validated at synth time against the service's rules (CDK's own `addRotationSchedule` renders only
 * `rate()` and has no window). Rendered into the `RotationRules` of `AWS::SecretsManager::RotationSchedule`.
 *
 * @example
 * RekeySchedule.after(Duration.days(30));
 * RekeySchedule.cron({ hour: 3, weekDay: 'SUN', window: Duration.hours(4) });
 * RekeySchedule.expression('cron(0 3 ? * SUN#1 *)', { window: Duration.hours(2) });
 */
export class RekeySchedule {
  /**
   * Every `interval`: whole days (1 to 999) or 4 to 23 hours. The window opens at midnight UTC.
   * @throws PropsError when the interval is not a whole number of days or 4 to 23 hours.
   */
  static after(interval: Duration, options: RotationWindowOptions = {}): RekeySchedule {
    const hours = interval.toHours({ integral: false });
    if (Number.isInteger(hours) && hours % 24 === 0 && hours > 0) {
      const days = hours / 24;
      return RekeySchedule.expression(`rate(${days} ${days === 1 ? 'day' : 'days'})`, options);
    }
    if (Number.isInteger(hours) && hours >= MIN_HOURS_APART && hours < 24) {
      return RekeySchedule.expression(`rate(${hours} hours)`, options);
    }
    throw new PropsError(
      `schedule: automaticallyAfter must be whole days (1 to ${MAX_DAYS}) or 4 to 23 hours, got ${interval.toHumanString()}`,
    );
  }

  /**
   * A cron schedule from its fields (UTC).
   * @throws PropsError naming the field that breaks the service's rules.
   */
  static cron(options: RekeyCronOptions): RekeySchedule {
    const weekDay = options.weekDay ?? '?';
    const day = options.day ?? (weekDay === '?' ? '*' : '?');
    const month = options.month ?? '*';
    return RekeySchedule.expression(`cron(0 ${options.hour} ${day} ${month} ${weekDay} *)`, options);
  }

  /**
   * A `rate(N hours|days)` or `cron(0 H DOM MON DOW *)` expression as the service takes it. A token is
   * passed through unchecked.
   * @throws PropsError naming what breaks the service's rules.
   */
  static expression(expression: string, options: RotationWindowOptions = {}): RekeySchedule {
    const parsed = Token.isUnresolved(expression) ? ({ kind: 'token' } as const) : parseExpression(expression);
    const window = options.window;
    if (window !== undefined) checkWindow(expression, parsed, window);
    return new RekeySchedule(expression, window, parsed);
  }

  private constructor(
    /** The expression, as rendered into `ScheduleExpression`. */
    readonly expressionString: string,
    /** The window length, when set. */
    readonly window: Duration | undefined,
    private readonly parsed: Parsed,
  ) {}

  /** The `RotationRules` of `AWS::SecretsManager::RotationSchedule`. */
  get rotationRules(): CfnRotationSchedule.RotationRulesProperty {
    return {
      scheduleExpression: this.expressionString,
      ...(this.window === undefined ? {} : { duration: `${this.window.toHours()}h` }),
    };
  }

  /**
   * An EventBridge `cron()` expression for the straggler sweep, `delay` (whole hours) after the last
   * rotation window of a rotation day closes: on the same days when the schedule names days and the
   * sweep falls on the same or (for plain weekdays) the next day; otherwise once a day, since a
   * `rate()` rotation's day cannot be known in advance.
   */
  sweepExpression(delay: Duration): string {
    const delayHours = delay.toHours();
    const p = this.parsed;
    const daily = (hour: number) => `cron(0 ${hour % 24} * * ? *)`;
    if (p.kind === 'token') return daily(delayHours);
    const windowHours = this.window?.toHours();
    if (p.kind === 'days') return daily((windowHours ?? 24) + delayHours);
    if (p.kind === 'hours') {
      const lastStart = Math.floor(23 / p.every) * p.every;
      return daily(lastStart + (windowHours ?? 1) + delayHours);
    }
    const lastStart = p.hours[p.hours.length - 1] ?? 0;
    const close = lastStart + (windowHours ?? (p.hours.length > 1 ? 1 : 24 - lastStart));
    const at = close + delayHours;
    if (p.day === '*' && p.month === '*' && p.weekDay === '?') return daily(at);
    if (at < 24) return `cron(0 ${at} ${p.day} ${p.month} ${p.weekDay} *)`;
    const nextDays = nextWeekDays(p);
    return nextDays ? `cron(0 ${at - 24} ? * ${nextDays} *)` : daily(at);
  }
}

function parseExpression(expression: string): Parsed {
  const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const every = Number(rate[1]);
    if (rate[2]?.startsWith('hour')) {
      if (every < MIN_HOURS_APART || every > 23) {
        throw new PropsError(
          `schedule: '${expression}' must rotate every 4 to 23 hours (use days beyond that), got ${every} hours`,
        );
      }
      return { kind: 'hours', every };
    }
    if (every < 1 || every > MAX_DAYS) {
      throw new PropsError(`schedule: '${expression}' must rotate every 1 to ${MAX_DAYS} days, got ${every}`);
    }
    return { kind: 'days', every };
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (!cron) {
    throw new PropsError(
      `schedule: '${expression}' must be 'rate(N hours|days)' or 'cron(0 H DOM MON DOW *)'`,
    );
  }
  const fields = (cron[1] ?? '').trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new PropsError(
      `schedule: '${expression}' must have 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [minutes, hourField, day, month, weekDay, year] = fields as [string, string, string, string, string, string];
  if (minutes !== '0') {
    throw new PropsError(
      `schedule: '${expression}' must have 0 in the minutes field (rotation windows open on the hour), got '${minutes}'`,
    );
  }
  if (year !== '*') {
    throw new PropsError(`schedule: '${expression}' must have * in the year field, got '${year}'`);
  }
  const hours = expandHours(expression, hourField);
  checkField(expression, 'day-of-month', day, /^(\*|\?|L|LW|(\d{1,2}W?)(-\d{1,2})?(\/\d{1,2})?)$/, 1, 31);
  checkField(expression, 'month', month, new RegExp(`^(\\*|(\\d{1,2}|${MONTH_NAMES})(-(\\d{1,2}|${MONTH_NAMES}))?(/\\d{1,2})?)$`), 1, 12);
  const dayName = `[1-7]|${DAY_NAMES.join('|')}`;
  checkField(
    expression,
    'day-of-week',
    weekDay,
    new RegExp(`^(\\*|\\?|L|(${dayName})(L|#[1-5])?|(${dayName})-(${dayName})(/\\d)?|\\*/\\d)$`),
    1,
    7,
  );
  if ((day === '?') === (weekDay === '?')) {
    throw new PropsError(
      `schedule: '${expression}' must have ? in exactly one of day-of-month and day-of-week, got '${day}' and '${weekDay}'`,
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
      throw new PropsError(
        `schedule: '${expression}' has an invalid hours field '${field}' (hours 0 to 23 with , - * /)`,
      );
    }
    for (let h = from; h <= to; h += step) hours.add(h);
  }
  const sorted = [...hours].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i += 1) {
    const gap = (sorted[i] ?? 0) - (sorted[i - 1] ?? 0);
    if (gap < MIN_HOURS_APART) {
      throw new PropsError(
        `schedule: '${expression}' opens windows ${gap} hour(s) apart; Secrets Manager rotates at most every ${MIN_HOURS_APART} hours`,
      );
    }
  }
  return sorted;
}

function checkField(
  expression: string,
  name: string,
  field: string,
  pattern: RegExp,
  min: number,
  max: number,
): void {
  for (const part of field.split(',')) {
    const numbers = (part.split('/')[0] ?? '').match(/\d+/g) ?? [];
    const hashAt = part.indexOf('#');
    const outOfRange = numbers.some((n, i) => {
      if (hashAt >= 0 && i === numbers.length - 1) return false;
      return Number(n) < min || Number(n) > max;
    });
    if (!pattern.test(part) || outOfRange) {
      throw new PropsError(`schedule: '${expression}' has an invalid ${name} field '${field}'`);
    }
  }
}

function checkWindow(expression: string, parsed: Parsed, window: Duration): void {
  const hours = window.toHours({ integral: false });
  if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
    throw new PropsError(
      `schedule: window must be whole hours from 1 to 24, got ${window.toHumanString()} for '${expression}'`,
    );
  }
  if (parsed.kind === 'hours' && hours > parsed.every) {
    throw new PropsError(
      `schedule: window ${hours}h runs into the next window of '${expression}' (at most ${parsed.every}h)`,
    );
  }
  if (parsed.kind !== 'cron') return;
  const last = parsed.hours[parsed.hours.length - 1] ?? 0;
  if (last + hours > 24) {
    throw new PropsError(
      `schedule: window ${hours}h opened at ${last}:00 by '${expression}' runs past the end of the UTC day (at most ${24 - last}h)`,
    );
  }
  for (let i = 1; i < parsed.hours.length; i += 1) {
    const gap = (parsed.hours[i] ?? 0) - (parsed.hours[i - 1] ?? 0);
    if (hours > gap) {
      throw new PropsError(
        `schedule: window ${hours}h runs into the next window of '${expression}' (windows ${gap}h apart)`,
      );
    }
  }
}

/** The day-of-week field moved one day on, when it is a plain list of days; else undefined. */
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

/** The default schedule: every 30 days, window from midnight to the end of the UTC day. */
export const DEFAULT_SCHEDULE_INTERVAL = Duration.days(30);
