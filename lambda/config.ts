import { z } from 'zod';
import { ConfigError } from './errors.js';
import { DEFAULT_HEARTBEAT_TABLE } from './heartbeat.js';
import {
  DEFAULT_READER_MARGIN_MS,
  DEFAULT_READER_MAX_AGE_MS,
  DEFAULT_STAGE_CHECK_INTERVAL_MS,
} from './reader-contract.js';

/**
 * Table, column and schema names: letters, digits and underscores, starting with a letter or an
 * underscore, at most 63 characters (PostgreSQL's limit). Anything else is refused, so config can never
 * carry SQL; names are also quoted per dialect when used.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const identifier = z.string().regex(IDENTIFIER_PATTERN, {
  message:
    'must be a plain SQL identifier (letters, digits, underscores; at most 63; not starting with a digit)',
});

const arn = (service: string) =>
  z.string().regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]*:[0-9]{12}:.+$`), {
    message: `must be an ARN of ${service}`,
  });

/** See `paging` below for why these sizes. */
const DEFAULT_PAGING = { maxRows: 5000, maxBytes: 768 * 1024 };

/**
 * Gentle by default: four statements in flight at once, and backing off when a statement's latency
 * doubles over its running baseline. A page's statement keeps the database busy for a few ms (it
 * rewrites a million rows in about 4 s) while a Data API call takes ~100 ms, so four in flight use
 * about a fifth of one database core and lock at most four pages of rows; an app's queries compete
 * with little more than that. Operators who want full speed raise `maxConcurrentStatements`.
 */
const DEFAULT_PACING = { maxConcurrentStatements: 4, backoffLatencyFactor: 2 };

const DEFAULT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const secretFieldSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('aes-256') }).strict(),
  z
    .object({
      kind: z.literal('token'),
      length: z.number().int().min(16).max(4096).default(64),
      alphabet: z
        .string()
        .min(2)
        .max(256)
        .refine((a) => new Set(a).size === a.length, { message: 'must not repeat a character' })
        .default(DEFAULT_ALPHABET),
    })
    .strict(),
  z.object({ kind: z.literal('fernet') }).strict(),
]);

const storedTableSchema = z
  .object({
    table: identifier,
    schema: identifier.optional(),
    id: identifier,
    columns: z.array(identifier).min(1),
    /** Overrides the top-level codec for this table (an app may use several formats). */
    codec: z.enum(['rk1', 'fernet', 'fernet-sha256']).optional(),
    /** Overrides the top-level data key field for this table. */
    dataKeyField: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => new Set(t.columns).size === t.columns.length, {
    message: 'columns must not repeat',
    path: ['columns'],
  })
  .refine((t) => !t.columns.includes(t.id), {
    message: 'the id column cannot be an encrypted column',
    path: ['id'],
  });

/**
 * A column the operator knowingly leaves out of the rotation (the database census does not report it),
 * with the reason written down for whoever reads the config next.
 */
const ignoredColumnSchema = z
  .object({
    table: identifier,
    schema: identifier.optional(),
    column: identifier,
    reason: z.string().refine((r) => r.trim().length > 0, {
      message: 'must say why the column is left out of the rotation',
    }),
  })
  .strict();

const rowPolicy = z.enum(['fail', 'skip']);

const configSchema = z
  .object({
    secretId: z.string().min(1).optional(),
    secretTemplate: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/), secretFieldSchema),
    dataKeyField: z.string().min(1),
    codec: z.enum(['rk1', 'fernet', 'fernet-sha256']).default('rk1'),
    storedFields: z.array(storedTableSchema).min(1),
    /** Columns that may hold ciphertext but are left out on purpose (lambda/db-census.ts skips them). */
    ignoredColumns: z.array(ignoredColumnSchema).optional(),
    dataApi: z
      .object({
        resourceArn: arn('rds'),
        secretArn: arn('secretsmanager'),
        database: identifier,
        engine: z.enum(['postgres', 'mysql']),
      })
      .strict(),
    /**
     * Page sizes and streams (lambda/passes/scan.ts, lambda/passes/streams.ts). The Data API answers at
     * most 1 MiB and takes requests of at most 4 MiB: a page's read stays under `maxBytes` (at most
     * 900 KiB), and its compare-and-swap sends the old and new values (about twice the read) plus at
     * most 10,000 ids, well under 4 MiB. 768 KiB leaves a quarter of the response limit for pages whose
     * values run larger than the average they were sized from (a page still over it is halved); 5,000
     * rows lets values of ~120 bytes fill it (about 4,000 a page) while bounding how many rows one
     * write keeps locked.
     */
    paging: z
      .object({
        maxRows: z.number().int().min(1).max(10_000).default(DEFAULT_PAGING.maxRows),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .max(900 * 1024)
          .default(DEFAULT_PAGING.maxBytes),
        /**
         * Key ranges worked on side by side; the pass picks fewer when calls are fast.
         * @default 8 (lambda/passes/streams.ts says why)
         */
        maxStreams: z.number().int().min(1).max(64).optional(),
        /**
         * Exactly this many streams, whatever the latency: for a run that must be the same every time
         * (and for the chaos suite, whose endpoints answer at once, to run several).
         */
        streams: z.number().int().min(1).max(64).optional(),
      })
      .strict()
      .default(DEFAULT_PAGING),
    /** The load a pass may put on the database (lambda/passes/pacing.ts). */
    pacing: z
      .object({
        maxConcurrentStatements: z
          .number()
          .int()
          .min(1)
          .max(128)
          .default(DEFAULT_PACING.maxConcurrentStatements),
        /** Rows a rewrite pass reads per second at most (setSecret, testSecret's catch-up); not the full read. */
        maxRowsPerSecond: z.number().int().min(1).optional(),
        backoffLatencyFactor: z.number().min(1.1).max(1000).default(DEFAULT_PACING.backoffLatencyFactor),
      })
      .strict()
      .default(DEFAULT_PACING),
    policies: z
      .object({
        plaintext: rowPolicy.default('fail'),
        undecryptable: rowPolicy.default('fail'),
      })
      .strict()
      .default({ plaintext: 'fail', undecryptable: 'fail' }),
    safetyMarginMs: z.number().int().min(1000).default(30_000),
    /** The reader contract (lambda/reader-contract.ts): how stale a reader's key ring may be. */
    readers: z
      .object({
        maxAgeMs: z.number().int().min(1000).default(DEFAULT_READER_MAX_AGE_MS),
        marginMs: z.number().int().min(0).default(DEFAULT_READER_MARGIN_MS),
      })
      .strict()
      .default({ maxAgeMs: DEFAULT_READER_MAX_AGE_MS, marginMs: DEFAULT_READER_MARGIN_MS }),
    stageCheckIntervalMs: z.number().int().min(100).default(DEFAULT_STAGE_CHECK_INTERVAL_MS),
    /**
     * Opt-in: promotion waits for the readers' heartbeats (lambda/fleet-gate.ts, docs/apps.md, "Fleet
     * gating (key-ring apps)"). Absent: no statement on any heartbeat table.
     */
    fleet: z
      .object({
        table: identifier.default(DEFAULT_HEARTBEAT_TABLE),
        /** A reader whose last heartbeat (database time) is older than this is not live. */
        liveWithinMs: z.number().int().min(1000).default(120_000),
        /** How long a step waits for lagging readers at most (also bounded by the Lambda's deadline). */
        waitMs: z.number().int().min(0).default(600_000),
        pollMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    checkKeyField(ctx, c.secretTemplate, c.dataKeyField, c.codec, ['dataKeyField']);
    for (const [i, t] of c.storedFields.entries()) {
      if (t.codec === undefined && t.dataKeyField === undefined) continue;
      checkKeyField(ctx, c.secretTemplate, t.dataKeyField ?? c.dataKeyField, t.codec ?? c.codec, [
        'storedFields',
        i,
        t.dataKeyField === undefined ? 'codec' : 'dataKeyField',
      ]);
    }
    const seen = new Set<string>();
    for (const [i, t] of c.storedFields.entries()) {
      const name = `${t.schema ?? ''}.${t.table}`;
      if (seen.has(name))
        ctx.addIssue({ code: 'custom', path: ['storedFields', i, 'table'], message: 'is listed twice' });
      seen.add(name);
      if (t.schema && c.dataApi.engine === 'mysql') {
        ctx.addIssue({
          code: 'custom',
          path: ['storedFields', i, 'schema'],
          message: 'is not supported with engine mysql (use dataApi.database)',
        });
      }
    }
    for (const [i, ignored] of (c.ignoredColumns ?? []).entries()) {
      if (ignored.schema && c.dataApi.engine === 'mysql') {
        ctx.addIssue({
          code: 'custom',
          path: ['ignoredColumns', i, 'schema'],
          message: 'is not supported with engine mysql (use dataApi.database)',
        });
      }
      const listed = c.storedFields.some(
        (t) =>
          t.table === ignored.table &&
          (t.schema ?? '') === (ignored.schema ?? '') &&
          t.columns.includes(ignored.column),
      );
      if (listed) {
        ctx.addIssue({
          code: 'custom',
          path: ['ignoredColumns', i, 'column'],
          message: 'is listed in storedFields too: a column is either rotated or ignored',
        });
      }
    }
  });

const CODEC_KEY_KINDS: Record<string, string | undefined> = {
  rk1: 'aes-256',
  fernet: 'fernet',
  'fernet-sha256': undefined,
};

function checkKeyField(
  ctx: z.RefinementCtx,
  template: Record<string, z.infer<typeof secretFieldSchema>>,
  fieldName: string,
  codec: string,
  path: (string | number)[],
): void {
  const field = template[fieldName];
  if (!field) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `names '${fieldName}', which is not a field of secretTemplate`,
    });
    return;
  }
  const wanted = CODEC_KEY_KINDS[codec];
  if (wanted && field.kind !== wanted) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `codec '${codec}' needs a data key of kind '${wanted}', got '${field.kind}'`,
    });
  }
}

/** The codec and data key field that apply to a table (its own, or the top-level ones). */
export function tableCodec(
  config: RekeyConfig,
  table: StoredTable,
): { codec: CodecName; dataKeyField: string } {
  return { codec: table.codec ?? config.codec, dataKeyField: table.dataKeyField ?? config.dataKeyField };
}

/** One field of the secret template. */
export type SecretField = z.infer<typeof secretFieldSchema>;
/** A column left out of the rotation on purpose, with the reason. */
export type IgnoredColumn = z.infer<typeof ignoredColumnSchema>;
/** One table whose columns hold values encrypted with the data key. */
export type StoredTable = z.infer<typeof storedTableSchema>;
/** Name of a ciphertext format. */
export type CodecName = RekeyConfig['codec'];
/** What to do with a plaintext or undecryptable stored value. */
export type RowPolicy = z.infer<typeof rowPolicy>;
/** The whole, validated, frozen configuration. */
export type RekeyConfig = Readonly<z.infer<typeof configSchema>>;
/** Configuration as written by a user (defaults not yet applied). */
export type RekeyConfigInput = z.input<typeof configSchema>;

/**
 * Validates a configuration object and applies defaults.
 * @throws ConfigError naming the first offending field and what it got.
 */
export function parseConfig(input: unknown, source = 'config'): RekeyConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? issue.path.join('.') : '(top level)';
    const got = describeValue(valueAt(input, issue?.path ?? []));
    throw new ConfigError(`${source}: ${path} ${issue?.message ?? 'is invalid'}${got ? `, got ${got}` : ''}`);
  }
  return deepFreeze(result.data);
}

/**
 * Reads the configuration from the Lambda environment: `REKEY_CONFIG` holds it as JSON (ARNs and
 * names only, never a secret value).
 * @throws ConfigError when the variable is missing, not JSON, or invalid.
 */
export function readConfig(env: Record<string, string | undefined>): RekeyConfig {
  const raw = env.REKEY_CONFIG;
  if (!raw) throw new ConfigError('REKEY_CONFIG must hold the rekey configuration as JSON, got nothing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new ConfigError('REKEY_CONFIG must be valid JSON', { cause });
  }
  return parseConfig(parsed, 'REKEY_CONFIG');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let here: unknown = input;
  for (const key of path) {
    if (here === null || typeof here !== 'object') return undefined;
    here = (here as Record<PropertyKey, unknown>)[key];
  }
  return here;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `'${v.length > 80 ? `${v.slice(0, 80)}...` : v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return '';
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
