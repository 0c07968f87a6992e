import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** A request to the operator endpoint, signed as the AWS SDK signs it, sent with fetch. */
export type Signable = {
  target: string;
  body: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  service?: 'ecs' | 'ssm';
  region?: string;
  signingDate?: Date;
  /** Headers sent but left out of the signature (the signer signs every other one). */
  unsigned?: string[];
  /** Whether x-amz-content-sha256 is added and signed, as the JS SDK does (default true). */
  applyChecksum?: boolean;
};

export const signRequest = async (
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  request: Signable,
): Promise<{ url: string; headers: Record<string, string> }> => {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    service: request.service ?? (request.target.startsWith('AmazonSSM.') ? 'ssm' : 'ecs'),
    region: request.region ?? 'us-east-1',
    credentials,
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: request.applyChecksum ?? true,
  });
  const path = request.path ?? '/';
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path,
      query: request.query ?? {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': request.target,
        ...request.headers,
      },
      body: request.body,
    },
    {
      signingDate: request.signingDate ?? new Date(),
      ...(request.unsigned ? { unsignableHeaders: new Set(request.unsigned) } : {}),
    },
  );
  const query = new URLSearchParams(request.query ?? {}).toString();
  // fetch sets Host itself, to the same host:port that was signed.
  const { host: _host, ...headers } = signed.headers;
  return { url: `${endpoint}${path}${query ? `?${query}` : ''}`, headers };
};

/** POSTs and answers the status and the parsed JSON body. */
export const post = async (url: string, headers: Record<string, string>, body: string) => {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
};

export const ecsTarget = (action: string) => `AmazonEC2ContainerServiceV20141113.${action}`;

/**
 * One ECS action (or another service's, named with its prefix: `AmazonSSM.CreateActivation`), signed, sent once (no SDK retries in between): its raw status, Retry-After and
 * body, and how long it took. Aborted after `timeoutMs`, so a hang fails the test instead of it.
 */
export const callAction = async (
  target: { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } },
  action: string,
  input: unknown,
  timeoutMs = 30_000,
) => {
  const body = JSON.stringify(input);
  const started = performance.now();
  const { url, headers } = await signRequest(target.endpoint, target.credentials, {
    target: action.includes('.') ? action : ecsTarget(action),
    body,
  });
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    // biome-ignore lint/suspicious/noExplicitAny: tests read answer fields directly
    body: (text ? JSON.parse(text) : {}) as Record<string, any>,
    ms: performance.now() - started,
  };
};
