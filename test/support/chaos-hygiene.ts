import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { codecFor } from '../../lambda/codecs/index.js';
import type { Log } from '../../lambda/ports.js';

/**
 * Every plaintext the chaos suite stores starts with this marker, so one substring search finds any
 * decrypted field that reaches a log, an error or a process's output.
 */
export const PLAINTEXT_MARKER = 'chaosPT~';

/** The figures one chaos file contributes to the summary line. */
export interface ChaosFigures {
  embeddedPoints?: number;
  postgresPoints?: number;
  processKills?: number;
  faults?: number;
  appWrites?: number;
  hostile?: number;
  /** Rotations promoted in the multi-rotation scenario. */
  rotations?: number;
  /** App instances (each with its own key rings) in the multi-rotation scenario. */
  readers?: number;
  /** Operator commands (abort, resume) run while a rotation step was running. */
  operatorRaces?: number;
  lost?: number;
}

/**
 * Collects everything the suite must never leak (secret values, every field of them, key material in
 * its usual encodings, plaintexts) and everything it must check (log lines, error messages and
 * stacks, child processes' output); {@link Hygiene.assertClean} fails naming only where a leak is.
 * With REKEY_CHAOS_DIR set (by test/chaos/run.ts) the forbidden strings and the figures also go to
 * files there, so the runner can check the whole run's output and print the summary.
 */
export class Hygiene {
  private readonly forbidden = new Set<string>();
  private readonly captured: string[] = [];
  private readonly dir = process.env.REKEY_CHAOS_DIR;

  constructor(readonly name: string) {
    if (this.dir) mkdirSync(this.dir, { recursive: true });
  }

  /** Registers a secret value (a JSON SecretString): the whole string, its fields and their keys. */
  forbidSecret(secretString: string): void {
    this.forbid(secretString);
    const fields = JSON.parse(secretString) as Record<string, unknown>;
    for (const value of Object.values(fields)) {
      if (typeof value !== 'string') continue;
      this.forbid(value);
      for (const codec of ['rk1', 'fernet', 'fernet-sha256'] as const) {
        try {
          const { material } = codecFor(codec).deriveKey(value);
          const bytes = Buffer.from(material);
          for (const form of ['hex', 'base64', 'base64url'] as const) this.forbid(bytes.toString(form));
        } catch {
          // Not a key of this codec.
        }
      }
    }
  }

  /** Registers a string that must never appear (at least 12 characters, to avoid false alarms). */
  forbid(text: string): void {
    if (text.length < 12 || this.forbidden.has(text)) return;
    this.forbidden.add(text);
    if (this.dir) appendFileSync(join(this.dir, `forbidden-${process.pid}.txt`), `${JSON.stringify(text)}\n`);
  }

  /** Keeps text (a log line, a process's output) for the final check. */
  capture(text: string): void {
    if (text.length > 0) this.captured.push(text);
  }

  /** Keeps an error's name, message, stack and causes. */
  captureError(error: unknown): void {
    let e: unknown = error;
    for (let depth = 0; e !== undefined && depth < 5; depth++) {
      if (e instanceof Error) {
        this.capture(`${e.name}: ${e.message}\n${e.stack ?? ''}`);
        e = e.cause;
      } else {
        this.capture(String(e));
        break;
      }
    }
  }

  /** A Log that writes JSON lines into the capture (and nowhere else). */
  log(): Log & { readonly lines: string[] } {
    const lines: string[] = [];
    const write = (level: string) => (message: string, fields?: Record<string, unknown>) => {
      const line = JSON.stringify({ level, message, ...fields });
      lines.push(line);
      this.capture(line);
    };
    return { lines, info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
  }

  /** How much text was captured, in characters (reported, so an empty capture shows). */
  get capturedChars(): number {
    return this.captured.reduce((n, t) => n + t.length, 0);
  }

  /** Fails when a captured text holds a forbidden string or the plaintext marker. */
  assertClean(): void {
    const leaks = findLeaks(this.captured, this.forbidden);
    assert.deepEqual(leaks, [], `${this.name}: secret material in captured output`);
  }

  /** Adds this file's figures for the runner's summary line. */
  report(figures: ChaosFigures): void {
    if (this.dir)
      appendFileSync(join(this.dir, `figures-${process.pid}.jsonl`), `${JSON.stringify(figures)}\n`);
  }
}

/** Where forbidden strings occur in `texts`, described without repeating them. */
export function findLeaks(texts: readonly string[], forbidden: Iterable<string>): string[] {
  const leaks: string[] = [];
  const all = [...forbidden];
  texts.forEach((text, i) => {
    if (text.includes(PLAINTEXT_MARKER)) leaks.push(`capture ${i}: a plaintext (marker found)`);
    all.forEach((f, j) => {
      if (text.includes(f)) leaks.push(`capture ${i}: forbidden string #${j} (${f.length} chars)`);
    });
  });
  return leaks;
}
