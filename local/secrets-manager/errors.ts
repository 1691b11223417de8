/** The error types the local Secrets Manager answers with (names as the SDK models them). */
export type SecretsManagerErrorType =
  | 'InternalServiceError'
  | 'InvalidNextTokenException'
  | 'InvalidParameterException'
  | 'InvalidRequestException'
  | 'LimitExceededException'
  | 'ResourceExistsException'
  | 'ResourceNotFoundException'
  | 'SerializationException'
  | 'UnknownOperationException';

/** An error answered as HTTP 400 (500 for InternalServiceError) with `{"__type", "message"}`. */
export class SecretsManagerError extends Error {
  override readonly name = 'SecretsManagerError';
  readonly type: SecretsManagerErrorType;
  readonly status: number;

  constructor(type: SecretsManagerErrorType, message: string) {
    super(message);
    this.type = type;
    this.status = type === 'InternalServiceError' ? 500 : 400;
  }
}

/** The secret itself does not exist. */
export function secretNotFound(): SecretsManagerError {
  return new SecretsManagerError(
    'ResourceNotFoundException',
    "Secrets Manager can't find the specified secret.",
  );
}

/** No version matches the VersionId and/or staging label asked for (or the version holds no value yet). */
export function valueNotFound(at: {
  versionId?: string | undefined;
  stage?: string | undefined;
}): SecretsManagerError {
  const what = [
    at.versionId === undefined ? undefined : `VersionId: ${at.versionId}`,
    at.stage === undefined ? undefined : `staging label: ${at.stage}`,
  ]
    .filter((s) => s !== undefined)
    .join(' and ');
  return new SecretsManagerError(
    'ResourceNotFoundException',
    `Secrets Manager can't find the specified secret value for ${what}`,
  );
}

/** The request is valid but the secret's state forbids it. */
export function invalidRequest(message: string): SecretsManagerError {
  return new SecretsManagerError('InvalidRequestException', message);
}

/** A parameter's value is invalid. */
export function invalidParameter(message: string): SecretsManagerError {
  return new SecretsManagerError('InvalidParameterException', message);
}

/** The secret is scheduled for deletion, so nothing but Describe works on it. */
export function markedForDeletion(): SecretsManagerError {
  return invalidRequest("You can't perform this operation on the secret because it was marked for deletion.");
}
