import { z } from 'zod';
import { badRequest } from './errors.js';
import { TYPE_HINTS } from './fields.js';

const field = z.object({
  isNull: z.boolean().optional(),
  booleanValue: z.boolean().optional(),
  longValue: z.number().int().optional(),
  doubleValue: z.number().optional(),
  stringValue: z.string().optional(),
  blobValue: z.string().optional(),
  arrayValue: z.unknown().optional(),
});

const sqlParameter = z.object({
  name: z.string().min(1),
  value: field.optional(),
  typeHint: z.enum(TYPE_HINTS).optional(),
});

/** A parameter as it arrives on the wire. */
export type SqlParameterInput = z.infer<typeof sqlParameter>;

// Required members are optional here and checked by the service, so the error names them plainly.
const target = {
  resourceArn: z.string().optional(),
  secretArn: z.string().optional(),
};

/** ExecuteStatement's request. */
export const executeRequest = z.object({
  ...target,
  sql: z.string().optional(),
  database: z.string().optional(),
  schema: z.string().optional(),
  parameters: z.array(sqlParameter).optional(),
  transactionId: z.string().optional(),
  includeResultMetadata: z.boolean().optional(),
  continueAfterTimeout: z.boolean().optional(),
  resultSetOptions: z
    .object({
      decimalReturnType: z.enum(['STRING', 'DOUBLE_OR_LONG']).optional(),
      longReturnType: z.enum(['STRING', 'LONG']).optional(),
    })
    .optional(),
  formatRecordsAs: z.enum(['NONE', 'JSON']).optional(),
});
/** ExecuteStatement's request, parsed. */
export type ExecuteRequest = z.infer<typeof executeRequest>;

/** BatchExecuteStatement's request. */
export const batchExecuteRequest = z.object({
  ...target,
  sql: z.string().optional(),
  database: z.string().optional(),
  schema: z.string().optional(),
  parameterSets: z.array(z.array(sqlParameter)).optional(),
  transactionId: z.string().optional(),
});
/** BatchExecuteStatement's request, parsed. */
export type BatchExecuteRequest = z.infer<typeof batchExecuteRequest>;

/** BeginTransaction's request. */
export const beginRequest = z.object({
  ...target,
  database: z.string().optional(),
  schema: z.string().optional(),
});
/** BeginTransaction's request, parsed. */
export type BeginRequest = z.infer<typeof beginRequest>;

/** CommitTransaction's and RollbackTransaction's request. */
export const endRequest = z.object({ ...target, transactionId: z.string().optional() });
/** CommitTransaction's and RollbackTransaction's request, parsed. */
export type EndRequest = z.infer<typeof endRequest>;

/**
 * Parses a request body against its schema.
 * @throws DataApiError (BadRequestException) naming the first invalid member.
 */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.join('.') || 'request';
  throw badRequest(`Invalid ${path}: ${issue?.message ?? 'invalid input'}`);
}
