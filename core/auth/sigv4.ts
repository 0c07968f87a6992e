import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { authError, type BerthError } from '../errors.ts';

/** An HTTP request as it reached the server, before any body parsing. */
export type SignedRequest = {
  method: string;
  /** The path as sent on the wire (still percent-encoded). */
  path: string;
  /** Raw query string without '?'. */
  query: string;
  /** Header names are matched case-insensitively; lower-cased is what Node gives. */
  headers: Record<string, string | undefined>;
  /** The raw body; its bytes are hashed as UTF-8. */
  body: string;
};

/**
 * What verifies an access key's signatures: its secret and, for temporary credentials, the session
 * token every request signed with it must carry (absent for long-term keys, which then accept none).
 */
export type SigningKey = { secretAccessKey: string; sessionToken?: string };

/** Finds the signing key of an access key id; undefined when the key is unknown (or revoked). */
export type SecretLookup = (accessKeyId: string) => Promise<SigningKey | undefined>;

/** Who signed a verified request, read from its credential scope. */
export type SigV4Identity = { accessKeyId: string; region: string; service: string };

const algorithm = 'AWS4-HMAC-SHA256';
const terminator = 'aws4_request';
const defaultMaxSkewMs = 15 * 60 * 1000;

const mismatchMessage =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const missingToken = () => authError('MissingAuthenticationTokenException', 'Missing Authentication Token');
const unrecognizedClient = () =>
  authError('UnrecognizedClientException', 'The security token included in the request is invalid.');
const incomplete = (message: string) => authError('IncompleteSignatureException', message);
const invalidSignature = (message: string) => authError('InvalidSignatureException', message);

/**
 * Verifies a request signed with SigV4 in the Authorization header (AWS4-HMAC-SHA256), the way AWS
 * JSON services do: the request is re-signed with the secret looked up for its access key, using the
 * same @smithy/signature-v4 code the AWS SDK signs with, and the two signatures are compared in
 * constant time. Only the headers the client listed in SignedHeaders take part, so clients that sign
 * different header sets (botocore, the JS SDK, curl --aws-sigv4) all verify; but every X-Amz-* header
 * present must be among them, as AWS requires, since those steer the request (X-Amz-Target picks the
 * action). A session token must match the one the key has, and a key without one accepts none.
 *
 * Checks run in the order AWS runs them, so the first error a client sees is the one AWS would give:
 * parameters present, date format, clock skew, host and X-Amz-* headers signed, algorithm, credential
 * scope, access key and session token, signature. The caller still checks that the returned service
 * and region are ones it serves.
 *
 * @throws BerthError of kind 'auth' with code MissingAuthenticationTokenException,
 *   IncompleteSignatureException, InvalidSignatureException or UnrecognizedClientException.
 */
export async function verifySigV4(
  request: SignedRequest,
  lookupSecret: SecretLookup,
  now: Date,
  options: { maxSkewMs?: number } = {},
): Promise<SigV4Identity> {
  const headers = lowerCaseKeys(request.headers);
  const query = parseQuery(request.query);
  const authorization = headers.authorization?.trim();
  const presigned = query.has('X-Amz-Algorithm');

  if (authorization && presigned) {
    throw invalidSignature(
      "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
  }
  if (!authorization && presigned) {
    // Presigned URLs exist for browsers and S3; no ECS client produces them, and accepting them would
    // put replayable credentials into URLs and access logs.
    throw incomplete(
      'Presigned query-string authentication is not supported; sign the Authorization header.',
    );
  }
  // AWS answers a foreign scheme (Basic, Bearer…) as if no credentials were sent at all.
  if (!authorization?.startsWith('AWS4-')) throw missingToken();

  const header = parseAuthorization(authorization);
  const amzDate = headers['x-amz-date'];
  const required = [
    ...(['Credential', 'Signature', 'SignedHeaders'] as const)
      .filter((name) => !header.params[name])
      .map((name) => `Authorization header requires '${name}' parameter.`),
    ...(amzDate === undefined && headers.date === undefined
      ? ["Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."]
      : []),
  ];
  if (required.length > 0) throw incomplete(`${required.join(' ')} Authorization=${authorization}`);
  if (amzDate === undefined) {
    // The signer the SDK uses always dates requests with X-Amz-Date; a Date-only request (an option
    // botocore has) could not be re-signed byte for byte, so it is refused up front, not as a mismatch.
    throw incomplete(`This server requires the 'X-Amz-Date' header. Authorization=${authorization}`);
  }

  const signedAt = parseAmzDate(amzDate);
  if (!signedAt) {
    throw incomplete(
      `Date must be in ISO-8601 'basic format'. Got '${amzDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  const skewError = checkSkew(signedAt, now, options.maxSkewMs ?? defaultMaxSkewMs);
  if (skewError) throw skewError;

  const credential = header.params.Credential!;
  const signature = header.params.Signature!;
  const signedHeaders = [...new Set(header.params.SignedHeaders!.toLowerCase().split(';'))].filter(Boolean);
  if (!signedHeaders.includes('host')) {
    throw invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (!signedHeaders.includes('x-amz-date')) {
    // The re-signing signer always signs X-Amz-Date, so an unsigned one could only ever mismatch.
    throw invalidSignature("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  }
  // A header left out of the signature can be changed by whoever holds a captured request for its
  // 15 minutes: an unsigned X-Amz-Target turns a ListServices into a DeleteCluster. X-Amzn-* headers
  // (a load balancer's trace id) are not X-Amz-* and stay free, as for AWS.
  const unsigned = Object.keys(headers)
    .filter(
      (name) => name.startsWith('x-amz-') && headers[name] !== undefined && !signedHeaders.includes(name),
    )
    .sort();
  if (unsigned.length > 0) {
    throw invalidSignature(
      `There were headers present in the request which were not signed: ${unsigned.join(', ')}. Every X-Amz-* header must be a 'SignedHeader' in the AWS Authorization.`,
    );
  }
  if (header.algorithm !== algorithm) {
    throw incomplete(`Unsupported AWS 'algorithm': '${header.algorithm}' (only ${algorithm} for now). `);
  }

  const scope = parseScope(credential, amzDate);
  const key = await lookupSecret(scope.accessKeyId);
  if (key === undefined) throw unrecognizedClient();
  // The token is part of the credential, so it is compared before the signature: a token the key
  // does not have (or none, for a key that needs one) is an unknown credential, like an unknown key.
  if (!sameSessionToken(key.sessionToken, headers['x-amz-security-token'])) throw unrecognizedClient();

  // A signed x-amz-content-sha256 stands in for the body in the canonical request, so the body must be
  // checked against it or a captured request could be replayed with another body.
  const contentSha = signedHeaders.includes('x-amz-content-sha256')
    ? headers['x-amz-content-sha256']
    : undefined;
  if (contentSha !== undefined && contentSha !== sha256Hex(request.body))
    throw invalidSignature(mismatchMessage);

  const expected = await resign(request, headers, query, signedHeaders, signedAt, scope, key.secretAccessKey);
  if (!constantTimeEqual(expected, signature)) throw invalidSignature(mismatchMessage);
  return { accessKeyId: scope.accessKeyId, region: scope.region, service: scope.service };
}

type Scope = SigV4Identity & { date: string };

/** Re-signs with exactly the client's signed headers and returns the hex signature. */
async function resign(
  request: SignedRequest,
  headers: Record<string, string | undefined>,
  query: Map<string, string[]>,
  signedHeaders: string[],
  signedAt: Date,
  scope: Scope,
  secret: string,
): Promise<string> {
  const signer = new SignatureV4({
    service: scope.service,
    region: scope.region,
    credentials: { accessKeyId: scope.accessKeyId, secretAccessKey: secret },
    sha256: Hash.bind(null, 'sha256'),
    // AWS JSON services double-encode the path (S3 alone does not), as the SDK does for them.
    uriEscapePath: true,
    // Never add x-amz-content-sha256: only a header the client signed may take part.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'https:',
      hostname: headers.host ?? '',
      path: request.path,
      query: Object.fromEntries(
        [...query].map(([key, values]) => [key, values.length === 1 ? values[0]! : values]),
      ),
      // A signed header that did not arrive is left out, so the signed-header list differs and it mismatches.
      headers: Object.fromEntries(
        signedHeaders.flatMap((name) => (headers[name] === undefined ? [] : [[name, headers[name]]])),
      ),
      body: request.body,
    },
    // signableHeaders lifts the signer's own exclusions (user-agent, expect…): what the client signed counts.
    { signingDate: signedAt, signableHeaders: new Set(signedHeaders) },
  );
  return /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] ?? '';
}

function parseAuthorization(authorization: string): {
  algorithm: string;
  params: Partial<Record<string, string>>;
} {
  const [algorithmName = '', ...pairs] = authorization.split(/[\s,]+/).filter(Boolean);
  const params: Partial<Record<string, string>> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 0) {
      throw incomplete(
        `'${pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '${authorization}'.`,
      );
    }
    params[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return { algorithm: algorithmName, params };
}

/** Splits `keyid/date/region/service/aws4_request` and checks it the way AWS does. */
function parseScope(credential: string, amzDate: string): Scope {
  // AWS ignores trailing slashes before counting elements.
  const parts = credential.replace(/\/+$/, '').split('/');
  if (parts.length !== 5) {
    throw incomplete(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
    );
  }
  const [accessKeyId = '', date = '', region = '', service = '', term = ''] = parts;
  const problems = [
    ...(region === '' ? [`Credential should be scoped to a valid region, not '${region}'.`] : []),
    ...(service === '' ? [`Credential should be scoped to correct service: '${service}'.`] : []),
    ...(term !== terminator
      ? [`Credential should be scoped with a valid terminator: '${terminator}', not '${term}'.`]
      : []),
    ...(date !== amzDate.slice(0, 8)
      ? [
          `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${date}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
        ]
      : []),
  ];
  if (problems.length > 0) throw invalidSignature(problems.join(' '));
  return { accessKeyId, date, region, service };
}

/** Parses `YYYYMMDDTHHMMSSZ`, rejecting impossible dates so the re-signed date string is identical. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const date = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  return basicFormat(date) === value ? date : undefined;
}

const basicFormat = (date: Date) =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');

function checkSkew(signedAt: Date, now: Date, maxSkewMs: number): BerthError | undefined {
  const window = maxSkewMs % 60_000 === 0 ? `${maxSkewMs / 60_000} min.` : `${maxSkewMs / 1000} sec.`;
  const earliest = new Date(now.getTime() - maxSkewMs);
  const latest = new Date(now.getTime() + maxSkewMs);
  if (signedAt < earliest) {
    return invalidSignature(
      `Signature expired: ${basicFormat(signedAt)} is now earlier than ${basicFormat(earliest)} (${basicFormat(now)} - ${window})`,
    );
  }
  if (signedAt > latest) {
    return invalidSignature(
      `Signature not yet current: ${basicFormat(signedAt)} is still later than ${basicFormat(latest)} (${basicFormat(now)} + ${window})`,
    );
  }
  return undefined;
}

function lowerCaseKeys(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const lowered: Record<string, string | undefined> = Object.create(null);
  for (const [name, value] of Object.entries(headers)) lowered[name.toLowerCase()] = value;
  return lowered;
}

/** Decodes the raw query into repeated values; the signer re-encodes them canonically. */
function parseQuery(raw: string): Map<string, string[]> {
  const query = new Map<string, string[]>();
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const key = decode(at < 0 ? pair : pair.slice(0, at));
    const value = at < 0 ? '' : decode(pair.slice(at + 1));
    query.set(key, [...(query.get(key) ?? []), value]);
  }
  return query;
}

/** Not URLSearchParams: it reads '+' as a space, which SigV4 does not. A bad escape stays as sent, so it mismatches. */
function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

const sha256Hex = (body: string) => createHash('sha256').update(body, 'utf8').digest('hex');

/**
 * Whether the session token sent is the key's: both absent, or equal. Tokens are secrets of any
 * length, so their SHA-256 digests are compared, in constant time.
 */
function sameSessionToken(expected: string | undefined, provided: string | undefined): boolean {
  if (expected === undefined || provided === undefined) return expected === provided;
  const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();
  return timingSafeEqual(digest(expected), digest(provided));
}

function constantTimeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  // Lengths are public (a signature is always 64 hex digits), so only equal-length inputs need the
  // constant-time comparison timingSafeEqual insists on.
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}
