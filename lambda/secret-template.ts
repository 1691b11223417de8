import { randomBytes } from 'node:crypto';
import type { RekeyConfig, SecretField } from './config.js';
import { SecretFormatError } from './errors.js';

/** A source of random bytes; `crypto.randomBytes` unless a test injects one. */
export type RandomBytes = (size: number) => Buffer;

/**
 * Generates a new secret value from the template. Fields of the current value that the template does
 * not know are carried over unchanged, so an app that keeps other settings in the secret keeps them.
 */
export function generateSecretValue(
  template: RekeyConfig['secretTemplate'],
  carryOver: Readonly<Record<string, unknown>> = {},
  random: RandomBytes = randomBytes,
): string {
  const value: Record<string, unknown> = { ...carryOver };
  for (const [name, field] of Object.entries(template)) value[name] = generateField(field, random);
  return JSON.stringify(value);
}

function generateField(field: SecretField, random: RandomBytes): string {
  switch (field.kind) {
    case 'aes-256':
      return random(32).toString('base64');
    case 'fernet':
      // As Python's Fernet.generate_key() writes it: URL-safe base64 with padding.
      return random(32).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
    case 'token':
      return randomString(field.length, field.alphabet, random);
  }
}

/** Uniform characters from the alphabet by rejection sampling (no modulo bias). */
function randomString(length: number, alphabet: string, random: RandomBytes): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of random(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * Parses a secret value and checks it against the template: a JSON object with every template field
 * as a string of the right shape. `token` fields only need to be non-empty, so an app's existing key
 * (of any length) can be adopted.
 * @throws SecretFormatError naming the version and the field, never a value.
 */
export function checkSecretValue(
  secretString: string,
  template: RekeyConfig['secretTemplate'],
  label: string,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new SecretFormatError(
      `${label} is not a JSON object; rekey secrets hold the template's fields as JSON`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretFormatError(
      `${label} is not a JSON object; rekey secrets hold the template's fields as JSON`,
    );
  }
  const value = parsed as Record<string, unknown>;
  for (const [name, field] of Object.entries(template)) {
    const v = value[name];
    if (typeof v !== 'string' || v.length === 0) {
      throw new SecretFormatError(
        `${label} does not match the template: field '${name}' is missing or not a string`,
      );
    }
    if (field.kind === 'aes-256' && Buffer.from(v, 'base64').length !== 32) {
      throw new SecretFormatError(
        `${label} does not match the template: field '${name}' is not 32 bytes of base64`,
      );
    }
    if (field.kind === 'fernet' && Buffer.from(v, 'base64url').length !== 32) {
      throw new SecretFormatError(
        `${label} does not match the template: field '${name}' is not a Fernet key`,
      );
    }
  }
  return value;
}
