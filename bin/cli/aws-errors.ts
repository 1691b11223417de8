import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { HandlerExecutionContext, MiddlewareStack } from '@smithy/types';
import { RekeyError } from '../../lambda/index.js';
import { UsageError } from './exit-codes.js';

/** The two services the CLI calls, as an error names them, with the variable that points each elsewhere. */
export const AWS_SERVICES = {
  secretsManager: { name: 'Secrets Manager', endpointVariable: 'AWS_ENDPOINT_URL_SECRETS_MANAGER' },
  rdsData: { name: 'the RDS Data API', endpointVariable: 'AWS_ENDPOINT_URL_RDS_DATA' },
} as const;

/** One of {@link AWS_SERVICES}. */
export type AwsService = (typeof AWS_SERVICES)[keyof typeof AWS_SERVICES];

/** The flags that decide where a call went and as whom (the CLI's `AwsOptions`). */
export interface CallFlags {
  readonly region?: string;
  readonly profile?: string;
  readonly endpointUrl?: string;
}

/** What the CLI knows about the call an SDK error came from: never a value, only names and places. */
export interface FailedCall {
  readonly service: AwsService;
  readonly operation: string;
  /** The `SecretId` the call named, when it named one (a name or an ARN, never a value). */
  readonly secretId: string | undefined;
  /** Where the request went, as an origin (`http://127.0.0.1:4566`), once the SDK had built it. */
  readonly endpoint: string | undefined;
  /** The region the client resolved, or `undefined` when it could not resolve one. */
  readonly region: string | undefined;
  readonly flags: CallFlags;
}

const failedCalls = new WeakMap<object, FailedCall>();

/**
 * Records, for every error a client's call throws, which service, operation, secret id, endpoint and
 * region it was, so that the CLI's error line can name them. The error itself passes through
 * unchanged (the core matches SDK errors by class), so nothing but the CLI's last line sees this.
 */
export function recordFailedCalls<Input extends object, Output extends object>(
  stack: MiddlewareStack<Input, Output>,
  service: AwsService,
  flags: CallFlags,
  region: () => Promise<string>,
): void {
  const endpoints = new WeakMap<HandlerExecutionContext, string>();
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (error !== null && typeof error === 'object' && !failedCalls.has(error)) {
          const input = args.input as { SecretId?: unknown };
          failedCalls.set(error, {
            service,
            operation: context.commandName?.replace(/Command$/, '') ?? 'call',
            secretId: typeof input.SecretId === 'string' ? input.SecretId : undefined,
            endpoint: endpoints.get(context),
            region: await region().catch(() => undefined),
            flags,
          });
        }
        throw error;
      }
    },
    { step: 'initialize', priority: 'high', name: 'rekeyRecordFailedCall' },
  );
  stack.add(
    (next, context) => async (args) => {
      const url = urlOf(args.request);
      if (url) endpoints.set(context, url);
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'rekeyRecordEndpoint' },
  );
}

/** The call an SDK error came from, when a CLI client made it. */
export function failedCallOf(error: unknown): FailedCall | undefined {
  return error !== null && typeof error === 'object' ? failedCalls.get(error) : undefined;
}

/** No region: neither `--region`, `AWS_REGION` nor the profile gives one. Exit 2. */
export class RegionMissingError extends UsageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegionMissingError';
  }
}

/** The named profile is in neither AWS config file. Exit 2. */
export class ProfileNotFoundError extends UsageError {
  readonly profile: string;
  constructor(profile: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProfileNotFoundError';
    this.profile = profile;
  }
}

/** The endpoint did not answer: refused, unknown host, timed out. */
export class EndpointUnreachableError extends RekeyError {
  readonly endpoint: string | undefined;
  readonly code: string;
  constructor(endpoint: string | undefined, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EndpointUnreachableError';
    this.endpoint = endpoint;
    this.code = code;
  }
}

/** Secrets Manager has no secret by that name or ARN (in that region, at that endpoint). */
export class SecretNotFoundError extends RekeyError {
  readonly secretId: string;
  constructor(secretId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretNotFoundError';
    this.secretId = secretId;
  }
}

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Operations whose ResourceNotFoundException means the secret itself is missing, not a version. */
const SECRET_OPERATIONS = new Set([
  'DescribeSecret',
  'ListSecretVersionIds',
  'RotateSecret',
  'PutSecretValue',
  'UpdateSecretVersionStage',
  'TagResource',
  'UntagResource',
]);

/**
 * The error to print for an SDK error a CLI client's call threw: one that names what failed (the
 * endpoint that did not answer, the missing region and the flag that sets it, the profile that does
 * not exist, the secret id that was not found). Any other error comes back as it is. Names only: no
 * input value other than the secret id reaches the message.
 */
export function explainError(error: unknown): unknown {
  const call = failedCallOf(error);
  if (!call || !(error instanceof Error)) return error;
  const profile = call.flags.profile ?? process.env.AWS_PROFILE;
  const profileFlag = call.flags.profile ? '--profile' : 'AWS_PROFILE';
  if (profile && (call.region === undefined || error.name === 'CredentialsProviderError')) {
    const files = awsConfigFiles();
    if (!files.some((f) => f.profiles.includes(profile))) {
      return new ProfileNotFoundError(
        profile,
        `profile '${profile}' (from ${profileFlag}) is not in ${[...new Set(files.map((f) => f.path))].join(' or ')}; ` +
          '`aws configure list-profiles` lists the ones there are',
        { cause: error },
      );
    }
  }
  if (call.region === undefined) {
    return new RegionMissingError(
      `no AWS region for ${call.service.name}: pass --region, set AWS_REGION, or give ` +
        `${profile ? `profile '${profile}'` : 'the default profile'} a region in the AWS config file`,
      { cause: error },
    );
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code in NETWORK_CODES) {
    return new EndpointUnreachableError(call.endpoint, code, unreachableMessage(call, code), {
      cause: error,
    });
  }
  if (error.name === 'ResourceNotFoundException' && call.secretId && SECRET_OPERATIONS.has(call.operation)) {
    return new SecretNotFoundError(
      call.secretId,
      `secret '${call.secretId}' not found in ${call.region}${call.endpoint ? ` at ${call.endpoint}` : ''} ` +
        `(${call.operation}: ${error.message}); check --secret-id (or secretId in the config file) and --region`,
      { cause: error },
    );
  }
  return error;
}

function unreachableMessage(call: FailedCall, code: string): string {
  const where = call.endpoint ? ` at ${call.endpoint}` : '';
  const local = call.endpoint
    ? /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/.test(call.endpoint)
    : false;
  const source = call.flags.endpointUrl
    ? 'the endpoint comes from --endpoint-url'
    : process.env[call.service.endpointVariable]
      ? `the endpoint comes from ${call.service.endpointVariable}`
      : process.env.AWS_ENDPOINT_URL
        ? 'the endpoint comes from AWS_ENDPOINT_URL'
        : `the region's endpoint; --endpoint-url or ${call.service.endpointVariable} point elsewhere`;
  return (
    `cannot reach ${call.service.name}${where} (${NETWORK_CODES[code]}): ` +
    `${local ? 'is `rekey local` running? ' : ''}(${source})`
  );
}

function urlOf(request: unknown): string | undefined {
  if (request === null || typeof request !== 'object') return undefined;
  const { protocol, hostname, port } = request as Record<string, unknown>;
  if (typeof protocol !== 'string' || typeof hostname !== 'string') return undefined;
  // The origin only: a REST operation's own path (/Execute) is not part of where the endpoint is.
  const host = hostname.includes(':') ? `[${hostname}]` : hostname;
  return `${protocol.replace(/:?$/, ':')}//${host}${typeof port === 'number' ? `:${port}` : ''}`;
}

/** The shared AWS config files and the profiles each names (`[profile x]` or `[x]`). */
function awsConfigFiles(): { path: string; profiles: string[] }[] {
  const home = homedir();
  const files = [
    { path: process.env.AWS_CONFIG_FILE ?? join(home, '.aws', 'config'), config: true },
    { path: process.env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, '.aws', 'credentials'), config: false },
  ];
  return files.map(({ path, config }) => {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // A missing file names no profile.
    }
    const profiles: string[] = [];
    for (const match of text.matchAll(/^\s*\[\s*([^\]]+?)\s*\]/gm)) {
      const section = match[1] ?? '';
      if (!config) profiles.push(section);
      else if (section === 'default') profiles.push(section);
      else if (/^profile\s+/.test(section)) profiles.push(section.replace(/^profile\s+/, ''));
    }
    return {
      path: home.length > 1 && path.startsWith(home) ? `~${path.slice(home.length)}` : path,
      profiles,
    };
  });
}
