/**
 * The domain's one error module. Every error Berth raises on purpose is a BerthError with a stable
 * `code` (the ECS/SSM exception name it goes out as) and a `kind` that decides the HTTP status.
 * Match errors by `code`, never by message text.
 */
export const ErrorKinds = ['input', 'auth', 'not_found', 'conflict', 'unavailable', 'internal'] as const;
export type ErrorKind = (typeof ErrorKinds)[number];

export class BerthError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  /**
   * What was there, for conflicts (never sent); the agent API sends two fields of it: the
   * `taskArn` whose report it refused and `retryAfterSeconds`.
   */
  readonly details: unknown;

  constructor(code: string, kind: ErrorKind, message: string, details?: unknown) {
    super(message);
    this.name = code;
    this.code = code;
    this.kind = kind;
    this.details = details;
  }
}

/** ECS's catch-all for bad requests ("ClientException"). */
export const clientError = (message: string) => new BerthError('ClientException', 'input', message);

export const invalidParameter = (message: string) =>
  new BerthError('InvalidParameterException', 'input', message);

export const clusterNotFound = (cluster?: string) =>
  new BerthError(
    'ClusterNotFoundException',
    'not_found',
    cluster ? `Cluster not found: ${cluster}` : 'Cluster not found.',
  );

export const notFound = (code: string, message: string) => new BerthError(code, 'not_found', message);

export const conflict = (code: string, message: string, details?: unknown) =>
  new BerthError(code, 'conflict', message, details);

export const authError = (code: string, message: string) => new BerthError(code, 'auth', message);

export const isBerthError = (error: unknown): error is BerthError => error instanceof BerthError;

/**
 * The table cannot take this call now: its store is restarting or not answering, or (on `berth up`)
 * its disk is nearly full. Answered 503 with Retry-After, so that callers come back later rather
 * than take the failure for an answer; `cause` (never sent) is what the database client raised.
 */
export const storeUnavailable = (message: string, retryAfterSeconds: number, cause?: unknown) =>
  new BerthError('ServiceUnavailableException', 'unavailable', message, { retryAfterSeconds, cause });

/** How long an error asks its caller to stay away (the Retry-After it is answered with), if it says. */
export const retryAfterSecondsOf = (error: BerthError): number | undefined => {
  const seconds = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0
    ? Math.ceil(seconds)
    : undefined;
};

/** HTTP status for a kind. AWS JSON protocols answer client errors with 400 whatever they are. */
export const httpStatusOf = (kind: ErrorKind): number => {
  switch (kind) {
    case 'input':
    case 'not_found':
    case 'conflict':
      return 400;
    case 'auth':
      return 403;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
};
