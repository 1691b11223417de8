import { z } from 'zod';
import { IDENTIFIER_PATTERN } from '../../lambda/index.js';

/**
 * The single-key app's configuration, in `REKEY_APP_CONFIG` (JSON): where to read and how to decrypt,
 * never a key. The key itself comes in its own variable, as ECS injects a secret into a task's
 * environment, and is read once at start.
 */
export const APP_CONFIG_ENV = 'REKEY_APP_CONFIG';

const identifier = z.string().regex(IDENTIFIER_PATTERN, { message: 'must be a plain SQL identifier' });

const appConfigSchema = z
  .object({
    /** The variable holding the key (Redash: REDASH_SECRET_KEY). */
    keyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
    /**
     * When the variable holds the whole secret value (a JSON object, as ECS injects a secret without a
     * JSON key), the field the key is in; absent when it holds the key itself (ECS's `ARN:field::`).
     */
    keyField: z.string().min(1).optional(),
    codec: z.enum(['rk1', 'fernet', 'fernet-sha256']),
    fields: z
      .array(
        z.object({ table: identifier, schema: identifier.optional(), id: identifier, column: identifier }),
      )
      .min(1),
    dataApi: z.object({
      resourceArn: z.string().min(1),
      secretArn: z.string().min(1),
      database: z.string().min(1),
      engine: z.enum(['postgres', 'mysql']),
    }),
  })
  .strict();

/** The single-key app's configuration (no secret in it). */
export type SingleKeyAppConfig = z.infer<typeof appConfigSchema>;

/** One stored column the app reads. */
export type AppField = SingleKeyAppConfig['fields'][number];

/**
 * Parses and validates the configuration.
 * @throws Error naming the first field that is wrong.
 */
export function parseAppConfig(input: unknown): SingleKeyAppConfig {
  const parsed = appConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${APP_CONFIG_ENV}.${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is invalid'}`);
  }
  return Object.freeze(parsed.data);
}
