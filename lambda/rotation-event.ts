import { EventError } from './errors.js';

/** The four steps of Secrets Manager's rotation protocol, as they appear on the wire. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
/** One rotation step. */
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * The event Secrets Manager sends the rotation function. Declared here because the community typings
 * lack `RotationToken`, which the service sends and PutSecretValue needs under an assumed role.
 */
export interface RotationEvent {
  readonly Step: RotationStep;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

/** The scheduled event that re-encrypts stragglers under AWSPREVIOUS to AWSCURRENT. */
export interface SweepEvent {
  readonly action: 'sweep';
  readonly SecretId?: string;
}

/** Any event the handler accepts. */
export type RekeyEvent = RotationEvent | SweepEvent;

/**
 * Parses an event from the wire.
 * @throws EventError naming the missing or invalid field (never echoing a secret: events carry none).
 */
export function parseEvent(event: unknown): RekeyEvent {
  if (event === null || typeof event !== 'object') throw new EventError('event must be a JSON object');
  const e = event as Record<string, unknown>;
  if (e.action !== undefined) {
    if (e.action !== 'sweep')
      throw new EventError(`unknown action '${String(e.action)}'; the only action is 'sweep'`);
    if (e.SecretId !== undefined && !nonEmptyString(e.SecretId))
      throw new EventError('SecretId must be a string');
    return e.SecretId === undefined
      ? { action: 'sweep' }
      : { action: 'sweep', SecretId: e.SecretId as string };
  }
  for (const key of ['Step', 'SecretId', 'ClientRequestToken'] as const) {
    if (!nonEmptyString(e[key])) throw new EventError(`event field ${key} must be a non-empty string`);
  }
  const step = e.Step as string;
  if (!(ROTATION_STEPS as readonly string[]).includes(step)) {
    throw new EventError(`Invalid step parameter ${step}`);
  }
  if (e.RotationToken !== undefined && !nonEmptyString(e.RotationToken)) {
    throw new EventError('event field RotationToken must be a non-empty string when present');
  }
  return {
    Step: step as RotationStep,
    SecretId: e.SecretId as string,
    ClientRequestToken: e.ClientRequestToken as string,
    ...(e.RotationToken === undefined ? {} : { RotationToken: e.RotationToken as string }),
  };
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 2048;
}
