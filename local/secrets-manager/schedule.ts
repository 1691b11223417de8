import { invalidParameter } from './errors.js';
import type { RotationRules } from './types.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Checks RotationRules as the service does: AutomaticallyAfterDays 1–1000 or a ScheduleExpression
 * (`rate(N days|hours)` or a six-field `cron(...)`), not both; Duration `Nh` of 1–24 hours.
 * @throws SecretsManagerError InvalidParameterException naming the rule and the value.
 */
export function validateRotationRules(rules: RotationRules): RotationRules {
  const { AutomaticallyAfterDays: days, ScheduleExpression: expression, Duration: duration } = rules;
  if (days !== undefined && expression !== undefined) {
    throw invalidParameter('You can specify AutomaticallyAfterDays or ScheduleExpression, but not both.');
  }
  if (days === undefined && expression === undefined) {
    throw invalidParameter('RotationRules needs AutomaticallyAfterDays or ScheduleExpression.');
  }
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 1000)) {
    throw invalidParameter(`AutomaticallyAfterDays must be an integer from 1 to 1000, got ${days}`);
  }
  if (expression !== undefined) parseSchedule(expression);
  if (duration !== undefined) {
    const hours = /^(\d+)h$/.exec(duration)?.[1];
    if (hours === undefined || Number(hours) < 1 || Number(hours) > 24) {
      throw invalidParameter(`Duration must be from 1h to 24h, got '${duration}'`);
    }
  }
  return rules;
}

/** When the next scheduled rotation is due after `from` (epoch ms). */
export function nextRotationDate(rules: RotationRules, from: number): number {
  if (rules.AutomaticallyAfterDays !== undefined) return from + rules.AutomaticallyAfterDays * DAY_MS;
  const schedule = parseSchedule(rules.ScheduleExpression ?? '');
  return schedule.kind === 'rate' ? from + schedule.everyMs : nextCronTime(schedule.fields, from);
}

type Schedule = { kind: 'rate'; everyMs: number } | { kind: 'cron'; fields: CronFields };

interface CronFields {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** `undefined` for `?`; `'L'` for the last day of the month. */
  readonly daysOfMonth: ReadonlySet<number> | 'L' | undefined;
  readonly months: ReadonlySet<number>;
  /** 1 (Sunday) to 7, as AWS cron numbers them; `undefined` for `?`. */
  readonly daysOfWeek: ReadonlySet<number> | undefined;
  readonly years: ReadonlySet<number>;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseSchedule(expression: string): Schedule {
  const rate = /^rate\((\d+) (days?|hours?)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const hours = rate[2]?.startsWith('hour');
    if (hours ? n < 4 || n > 24 : n < 1 || n > 1000) {
      throw invalidParameter(
        `ScheduleExpression ${expression} is out of range: rate(4–24 hours) or rate(1–1000 days)`,
      );
    }
    return { kind: 'rate', everyMs: n * (hours ? HOUR_MS : DAY_MS) };
  }
  const cron = /^cron\((.+)\)$/.exec(expression)?.[1]?.trim().split(/\s+/);
  if (cron?.length !== 6) {
    throw invalidParameter(
      `ScheduleExpression must be rate(...) or a six-field cron(...), got '${expression}'`,
    );
  }
  const [min, hour, dom, month, dow, year] = cron as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    throw invalidParameter(
      `ScheduleExpression ${expression}: exactly one of day-of-month and day-of-week must be '?'`,
    );
  }
  const field = (text: string, lo: number, hi: number, names?: readonly string[]): Set<number> =>
    parseCronField(text, lo, hi, expression, names);
  return {
    kind: 'cron',
    fields: {
      minutes: [...field(min, 0, 59)].sort((a, b) => a - b),
      hours: [...field(hour, 0, 23)].sort((a, b) => a - b),
      daysOfMonth: dom === '?' ? undefined : dom === 'L' ? 'L' : field(dom, 1, 31),
      months: field(month, 1, 12, MONTHS),
      daysOfWeek: dow === '?' ? undefined : field(dow, 1, 7, WEEKDAYS),
      years: field(year, 1970, 2199),
    },
  };
}

function parseCronField(
  text: string,
  lo: number,
  hi: number,
  expression: string,
  names?: readonly string[],
): Set<number> {
  const value = (token: string): number => {
    const named = names?.indexOf(token.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + 1 : Number(token);
    if (!Number.isInteger(n) || n < lo || n > hi) {
      throw invalidParameter(`ScheduleExpression ${expression}: '${token}' is not in ${lo}-${hi}`);
    }
    return n;
  };
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) {
      throw invalidParameter(`ScheduleExpression ${expression}: '${part}' has an invalid step`);
    }
    let from = lo;
    let to = hi;
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      from = value(a);
      to = b === undefined ? (stepText === undefined ? from : hi) : value(b);
    }
    for (let n = from; n <= to; n += step) out.add(n);
  }
  return out;
}

function nextCronTime(fields: CronFields, from: number): number {
  const start = new Date(from);
  const day0 = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  // Five years of days is enough for any expression the service accepts that fires at all.
  for (let d = 0; d < 5 * 366; d++) {
    const day = new Date(day0 + d * DAY_MS);
    if (!matchesDay(fields, day)) continue;
    for (const hour of fields.hours) {
      for (const minute of fields.minutes) {
        const t = day.getTime() + hour * HOUR_MS + minute * 60_000;
        if (t > from) return t;
      }
    }
  }
  throw invalidParameter('ScheduleExpression never fires in the next five years');
}

function matchesDay(fields: CronFields, day: Date): boolean {
  const year = day.getUTCFullYear();
  const month = day.getUTCMonth() + 1;
  if (!fields.years.has(year) || !fields.months.has(month)) return false;
  if (fields.daysOfWeek) return fields.daysOfWeek.has(day.getUTCDay() + 1);
  if (fields.daysOfMonth === 'L') return new Date(Date.UTC(year, month, 0)).getUTCDate() === day.getUTCDate();
  return fields.daysOfMonth?.has(day.getUTCDate()) ?? true;
}
