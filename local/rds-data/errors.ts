/** The error shapes the RDS Data API answers with (names as the SDK models them). */
export type DataApiErrorType =
  | 'BadRequestException'
  | 'DatabaseErrorException'
  | 'DatabaseResumingException'
  | 'ForbiddenException'
  | 'InternalServerErrorException'
  | 'NotFoundException'
  | 'ServiceUnavailableError'
  | 'StatementTimeoutException'
  | 'ThrottlingException'
  | 'TransactionNotFoundException'
  | 'RequestEntityTooLargeException'
  | 'UnknownOperationException';

const STATUS: Readonly<Record<DataApiErrorType, number>> = {
  BadRequestException: 400,
  DatabaseErrorException: 400,
  DatabaseResumingException: 400,
  ForbiddenException: 403,
  InternalServerErrorException: 500,
  NotFoundException: 404,
  ServiceUnavailableError: 503,
  StatementTimeoutException: 400,
  // The service throttles with HTTP 400 and this name, which the SDK's retry strategy treats as throttling.
  ThrottlingException: 400,
  TransactionNotFoundException: 404,
  // The service documents a 4 MiB request limit but not its error; this is what an AWS front end sends.
  RequestEntityTooLargeException: 413,
  UnknownOperationException: 404,
};

/** An error the local Data API answers with: HTTP status, `x-amzn-ErrorType` and a JSON body. */
export class DataApiError extends Error {
  override readonly name = 'DataApiError';
  readonly type: DataApiErrorType;
  readonly status: number;
  /** Extra members of the error body (StatementTimeoutException's dbConnectionId). */
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(type: DataApiErrorType, message: string, extra: Readonly<Record<string, unknown>> = {}) {
    super(message);
    this.type = type;
    this.status = STATUS[type];
    this.extra = extra;
  }

  /** The JSON body the SDK reads `message` (and modelled members) from. */
  body(): Record<string, unknown> {
    return { message: this.message, ...this.extra };
  }
}

/** A BadRequestException: invalid input or a statement the database refused. */
export function badRequest(message: string): DataApiError {
  return new DataApiError('BadRequestException', message);
}

/** The error for an unknown, ended or expired transaction, worded as the service words it. */
export function transactionNotFound(transactionId: string): DataApiError {
  return new DataApiError('TransactionNotFoundException', `Transaction ${transactionId} isn't found`);
}
