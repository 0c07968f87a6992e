import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SecretLookup, type SignedRequest, verifySigV4 } from '../../core/auth/sigv4.ts';
import { BerthError } from '../../core/errors.ts';

const accessKeyId = 'BKIAIOSFODNN7EXAMPLE';
const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const host = 'berth.example.com';
const now = new Date('2026-11-25T10:40:10Z');
const minutes = (n: number) => n * 60_000;
const lookup: SecretLookup = async (id) => (id === accessKeyId ? { secretAccessKey: secret } : undefined);

const mismatch =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

type ClientRequest = {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: string;
};

type SignOptions = {
  secret?: string;
  signingDate?: Date;
  /** The JS SDK adds x-amz-content-sha256 (true); botocore does not for JSON services (false). */
  applyChecksum?: boolean;
  signableHeaders?: Set<string>;
  unsignableHeaders?: Set<string>;
  sessionToken?: string;
};

const listClusters = (): ClientRequest => ({
  method: 'POST',
  path: '/',
  query: {},
  headers: {
    host,
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters',
    'user-agent': 'aws-sdk-js/3.0.0',
  },
  body: '{"maxResults":10}',
});

/** Signs as the AWS SDK does, then turns the result into what the server receives. */
async function sign(
  request: ClientRequest = listClusters(),
  options: SignOptions = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: 'ecs',
    region: 'eu-west-1',
    credentials: {
      accessKeyId,
      secretAccessKey: options.secret ?? secret,
      sessionToken: options.sessionToken,
    },
    sha256: Hash.bind(null, 'sha256'),
    applyChecksum: options.applyChecksum ?? true,
  });
  const signed = await signer.sign(
    { ...request, protocol: 'https:', hostname: host },
    {
      signingDate: options.signingDate ?? now,
      signableHeaders: options.signableHeaders,
      unsignableHeaders: options.unsignableHeaders,
    },
  );
  return {
    method: signed.method,
    path: signed.path,
    query: rawQuery(request.query),
    headers: Object.fromEntries(
      Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), value]),
    ),
    body: request.body,
  };
}

const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const rawQuery = (query: ClientRequest['query']) =>
  Object.entries(query)
    .flatMap(([key, values]) => [values].flat().map((value) => `${encode(key)}=${encode(value)}`))
    .join('&');

/** Runs the verifier and returns the BerthError it throws. */
async function rejection(request: SignedRequest, at: Date = now, maxSkewMs?: number): Promise<BerthError> {
  const error = await verifySigV4(request, lookup, at, { maxSkewMs }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BerthError);
  return error as BerthError;
}

const withAuthorization = (request: SignedRequest, edit: (value: string) => string): SignedRequest => ({
  ...request,
  headers: { ...request.headers, authorization: edit(request.headers.authorization ?? '') },
});

describe('verifySigV4', () => {
  it('accepts a request signed by the SDK signer and names the key, region and service', async () => {
    // Prepare
    const request = await sign();

    // Act
    const identity = await verifySigV4(request, lookup, now);

    // Assess
    expect(identity).toEqual({ accessKeyId, region: 'eu-west-1', service: 'ecs' });
  });

  it('accepts a request signed by @aws-sdk/client-ecs itself', async () => {
    // Prepare: capture the signed request instead of sending it.
    let captured:
      | { method: string; path: string; query: object; headers: Record<string, string>; body: unknown }
      | undefined;
    const client = new ECSClient({
      region: 'eu-west-1',
      endpoint: `https://${host}`,
      credentials: { accessKeyId, secretAccessKey: secret },
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: NonNullable<typeof captured>) => {
          captured = request;
          throw new Error('captured');
        },
      },
    });
    await expect(client.send(new ListClustersCommand({ maxResults: 5 }))).rejects.toThrow('captured');
    const sent = captured!;

    // Act
    const identity = await verifySigV4(
      {
        method: sent.method,
        path: sent.path,
        query: rawQuery(sent.query as ClientRequest['query']),
        headers: Object.fromEntries(Object.entries(sent.headers).map(([k, v]) => [k.toLowerCase(), v])),
        body: String(sent.body),
      },
      lookup,
      new Date(),
    );

    // Assess
    expect(identity.service).toBe('ecs');
    expect(sent.headers.authorization).toContain('x-amz-target');
  });

  it('accepts a botocore-style request that signs user-agent and carries no content hash', async () => {
    const request = await sign(listClusters(), {
      applyChecksum: false,
      signableHeaders: new Set(['user-agent']),
    });

    expect(request.headers.authorization).toContain('user-agent');
    await expect(verifySigV4(request, lookup, now)).resolves.toMatchObject({ accessKeyId });
  });

  it('accepts header names in any case, on the client and on the server', async () => {
    // Prepare: the client sends mixed-case names; the server hands them over upper-cased.
    const client = listClusters();
    client.headers = { Host: host, 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'X.Y' };
    const request = await sign(client);
    const shouted = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toUpperCase(), v]));

    // Act
    const identity = await verifySigV4({ ...request, headers: shouted }, lookup, now);

    // Assess
    expect(identity.accessKeyId).toBe(accessKeyId);
  });

  it('folds header-value whitespace as SigV4 canonicalisation does', async () => {
    // Prepare: the HTTP parser trims the ends; a proxy may collapse inner runs of spaces.
    const client = listClusters();
    client.headers['x-amz-meta-note'] = '  two   spaces\tand a tab  ';
    const request = await sign(client);

    // Act
    const trimmed = {
      ...request,
      headers: { ...request.headers, 'x-amz-meta-note': 'two   spaces\tand a tab' },
    };
    const collapsed = {
      ...request,
      headers: { ...request.headers, 'x-amz-meta-note': 'two spaces and a tab' },
    };
    const changed = { ...request, headers: { ...request.headers, 'x-amz-meta-note': 'twospaces and a tab' } };

    // Assess
    await expect(verifySigV4(trimmed, lookup, now)).resolves.toMatchObject({ accessKeyId });
    await expect(verifySigV4(collapsed, lookup, now)).resolves.toMatchObject({ accessKeyId });
    expect((await rejection(changed)).code).toBe('InvalidSignatureException');
  });

  it('accepts query parameters that need encoding or repeat, in any order on the wire', async () => {
    const client = { ...listClusters(), query: { 'b key': 'x y/z', a: ['2', '1'], empty: '' } };
    const request = await sign(client);

    const reordered = { ...request, query: 'empty=&a=1&b%20key=x%20y%2Fz&a=2' };

    await expect(verifySigV4(reordered, lookup, now)).resolves.toMatchObject({ accessKeyId });
  });

  it('ignores headers the client did not sign, such as ones a proxy adds', async () => {
    const request = await sign();

    const proxied = {
      ...request,
      headers: { ...request.headers, 'x-forwarded-for': '10.0.0.1', via: '1.1 proxy' },
    };

    await expect(verifySigV4(proxied, lookup, now)).resolves.toMatchObject({ accessKeyId });
  });

  it('accepts the session token of temporary credentials, and only that one', async () => {
    // Prepare: a lookup that knows the key's session token (temporary credentials).
    const temporary: SecretLookup = async (id) =>
      id === accessKeyId ? { secretAccessKey: secret, sessionToken: 'session-token' } : undefined;
    const request = await sign(listClusters(), { sessionToken: 'session-token' });
    const other = await sign(listClusters(), { sessionToken: 'other-token' });
    const none = await sign();

    // Act
    const outcomes = await Promise.all(
      [request, other, none].map((r) =>
        verifySigV4(r, temporary, now).then(
          () => 'accepted',
          (e: BerthError) => e.code,
        ),
      ),
    );

    // Assess
    expect(request.headers.authorization).toContain('x-amz-security-token');
    expect(outcomes).toEqual(['accepted', 'UnrecognizedClientException', 'UnrecognizedClientException']);
  });

  it('refuses a session token for a key that has none, as an unknown credential', async () => {
    const request = await sign(listClusters(), { sessionToken: 'session-token' });

    const error = await rejection(request);

    expect(error).toMatchObject({
      code: 'UnrecognizedClientException',
      kind: 'auth',
      message: 'The security token included in the request is invalid.',
    });
  });

  it.each<[string, SignOptions, Record<string, string>]>([
    ['x-amz-target', { unsignableHeaders: new Set(['x-amz-target']) }, {}],
    ['x-amz-content-sha256', { applyChecksum: false }, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }],
    ['x-amz-security-token', {}, { 'x-amz-security-token': 'session-token' }],
    ['x-amz-meta-note', {}, { 'X-Amz-Meta-Note': 'added' }],
  ])('refuses an X-Amz-* header present but not signed (%s)', async (name, options, added) => {
    // Prepare: x-amz-target is sent but left out of the signature; the others are added after signing.
    const signed = await sign(listClusters(), options);
    const request = { ...signed, headers: { ...signed.headers, ...added } };

    // Act
    const error = await rejection(request);

    // Assess
    expect(request.headers.authorization).not.toContain(name);
    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toBe(
      `There were headers present in the request which were not signed: ${name}. Every X-Amz-* header must be a 'SignedHeader' in the AWS Authorization.`,
    );
  });

  it.each([
    ['the body', (r: SignedRequest) => ({ ...r, body: '{"maxResults":11}' })],
    [
      'a signed header',
      (r: SignedRequest) => ({ ...r, headers: { ...r.headers, 'x-amz-target': 'X.DeleteCluster' } }),
    ],
    ['the host', (r: SignedRequest) => ({ ...r, headers: { ...r.headers, host: 'evil.example.com' } })],
    ['the method', (r: SignedRequest) => ({ ...r, method: 'PUT' })],
    ['the path', (r: SignedRequest) => ({ ...r, path: '/agent/v1/sync' })],
    ['the query', (r: SignedRequest) => ({ ...r, query: 'cluster=prod' })],
    [
      'the signature',
      (r: SignedRequest) =>
        withAuthorization(r, (v) => v.replace(/Signature=\w+/, `Signature=${'0'.repeat(64)}`)),
    ],
    [
      'the signed header list',
      (r: SignedRequest) =>
        withAuthorization(r, (v) => v.replace('SignedHeaders=', 'SignedHeaders=user-agent;')),
    ],
  ])('rejects a request when %s changed after signing', async (_what, tamper) => {
    for (const applyChecksum of [true, false]) {
      const request = await sign(listClusters(), { applyChecksum });

      const error = await rejection(tamper(request));

      expect(error.code).toBe('InvalidSignatureException');
      expect(error.message).toBe(mismatch);
      expect(error.kind).toBe('auth');
    }
  });

  it('rejects a request signed with the wrong secret', async () => {
    const request = await sign(listClusters(), { secret: 'not-the-secret' });

    const error = await rejection(request);

    expect([error.code, error.message]).toEqual(['InvalidSignatureException', mismatch]);
  });

  it('rejects an access key it does not know', async () => {
    const request = await sign();

    const error = await verifySigV4(request, async () => undefined, now).catch((e: BerthError) => e);

    expect(error).toMatchObject({
      code: 'UnrecognizedClientException',
      kind: 'auth',
      message: 'The security token included in the request is invalid.',
    });
  });

  it('reports an expired signature in AWS wording', async () => {
    const request = await sign(listClusters(), { signingDate: new Date('2026-11-25T10:10:10Z') });

    const error = await rejection(request);

    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toBe(
      'Signature expired: 20261125T101010Z is now earlier than 20261125T102510Z (20261125T104010Z - 15 min.)',
    );
  });

  it('reports a signature from the future as not yet current', async () => {
    const request = await sign(listClusters(), { signingDate: new Date('2026-11-25T10:56:10Z') });

    const error = await rejection(request);

    expect(error.code).toBe('InvalidSignatureException');
    expect(error.message).toBe(
      'Signature not yet current: 20261125T105610Z is still later than 20261125T105510Z (20261125T104010Z + 15 min.)',
    );
  });

  it.each([-16, 16])('rejects a date %i minutes off the server clock', async (offset) => {
    const request = await sign(listClusters(), { signingDate: new Date(now.getTime() + minutes(offset)) });

    expect((await rejection(request)).code).toBe('InvalidSignatureException');
  });

  it.each([-15, 15])('accepts a date %i minutes off, at the edge of the window', async (offset) => {
    const request = await sign(listClusters(), { signingDate: new Date(now.getTime() + minutes(offset)) });

    await expect(verifySigV4(request, lookup, now)).resolves.toMatchObject({ accessKeyId });
  });

  it('honours a narrower clock-skew window', async () => {
    const request = await sign(listClusters(), { signingDate: new Date(now.getTime() - minutes(6)) });

    const error = await rejection(request, now, minutes(5));

    expect(error.message).toMatch(/^Signature expired: .* - 5 min\.\)$/);
  });

  it.each([
    ['no Authorization header', {}],
    ['an empty Authorization header', { authorization: '' }],
    ['a Bearer token', { authorization: 'Bearer abc' }],
  ])('answers a request with %s as missing authentication', async (_what, headers) => {
    const request = await sign();
    const { authorization: _, ...unsigned } = request.headers;

    const error = await rejection({ ...request, headers: { ...unsigned, ...headers } });

    expect([error.code, error.message]).toEqual([
      'MissingAuthenticationTokenException',
      'Missing Authentication Token',
    ]);
  });

  it.each<[string, (r: SignedRequest) => SignedRequest, string, RegExp]>([
    [
      'has no Signature',
      (r) => withAuthorization(r, (v) => v.replace(/, Signature=\w+/, '')),
      'IncompleteSignatureException',
      /^Authorization header requires 'Signature' parameter\. Authorization=AWS4-HMAC-SHA256 Credential=/,
    ],
    [
      'has no Credential or SignedHeaders',
      (r) => withAuthorization(r, (v) => v.replace(/Credential=\S+ SignedHeaders=\S+ /, '')),
      'IncompleteSignatureException',
      /^Authorization header requires 'Credential' parameter\. Authorization header requires 'SignedHeaders' parameter\./,
    ],
    [
      'has a pair without an equal sign',
      (r) => withAuthorization(r, (v) => v.replace('Credential=', 'Credential= ')),
      'IncompleteSignatureException',
      /^'BKIAIOSFODNN7EXAMPLE\/20261125\/eu-west-1\/ecs\/aws4_request' not a valid key=value pair \(missing equal-sign\)/,
    ],
    [
      'names another algorithm',
      (r) => withAuthorization(r, (v) => v.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512')),
      'IncompleteSignatureException',
      /^Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' \(only AWS4-HMAC-SHA256 for now\)/,
    ],
    [
      'has a four-part credential scope',
      (r) => withAuthorization(r, (v) => v.replace('/ecs/aws4_request', '/aws4_request')),
      'IncompleteSignatureException',
      /^Credential must have exactly 5 slash-delimited elements, e.g\. keyid\/date\/region\/service\/term, got '/,
    ],
    [
      'has a wrong scope terminator',
      (r) => withAuthorization(r, (v) => v.replace('/aws4_request', '/aws5_request')),
      'InvalidSignatureException',
      /^Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'\.$/,
    ],
    [
      'has a scope date other than the X-Amz-Date day',
      (r) => withAuthorization(r, (v) => v.replace('/20261125/', '/20261124/')),
      'InvalidSignatureException',
      /^Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261124' != '20261125', from '20261125T104010Z'\.$/,
    ],
    [
      'leaves host unsigned',
      (r) =>
        withAuthorization(r, (v) => v.replace(/;host;|SignedHeaders=host;/, (m) => m.replace('host;', ''))),
      'InvalidSignatureException',
      /^'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization\.$/,
    ],
    [
      'leaves x-amz-date unsigned',
      (r) => withAuthorization(r, (v) => v.replace(';x-amz-date', '')),
      'InvalidSignatureException',
      /^'X-Amz-Date' must be a 'SignedHeader'/,
    ],
    [
      'comes without any date header',
      (r) => ({ ...r, headers: { ...r.headers, 'x-amz-date': undefined } }),
      'IncompleteSignatureException',
      /Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header\./,
    ],
    [
      'is dated with Date alone',
      (r) => ({
        ...r,
        headers: { ...r.headers, 'x-amz-date': undefined, date: 'Wed, 25 Nov 2026 10:40:10 GMT' },
      }),
      'IncompleteSignatureException',
      /requires the 'X-Amz-Date' header/,
    ],
    [
      'has an X-Amz-Date not in basic format',
      (r) => ({ ...r, headers: { ...r.headers, 'x-amz-date': '2026-11-25T10:40:10Z' } }),
      'IncompleteSignatureException',
      /^Date must be in ISO-8601 'basic format'\. Got '2026-11-25T10:40:10Z'\./,
    ],
    [
      'has an impossible X-Amz-Date',
      (r) => ({ ...r, headers: { ...r.headers, 'x-amz-date': '20261325T104010Z' } }),
      'IncompleteSignatureException',
      /^Date must be in ISO-8601 'basic format'/,
    ],
    [
      'also carries presigned query parameters',
      (r) => ({ ...r, query: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' }),
      'InvalidSignatureException',
      /^Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header\.$/,
    ],
  ])('rejects a request that %s', async (_what, malform, code, message) => {
    const request = await sign();

    const error = await rejection(malform(request));

    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses presigned query-string authentication', async () => {
    const request = await sign();
    const { authorization: _, ...headers } = request.headers;

    const error = await rejection({
      ...request,
      headers,
      query: 'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00',
    });

    expect(error.code).toBe('IncompleteSignatureException');
  });

  it('rejects the request when any byte of the body is flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        async (name, at, mask, applyChecksum) => {
          const client = { ...listClusters(), body: JSON.stringify({ cluster: name }) };
          const request = await sign(client, { applyChecksum });
          const bytes = Buffer.from(request.body, 'utf8');
          bytes[at % bytes.length]! ^= mask;

          const error = await rejection({ ...request, body: bytes.toString('utf8') });

          expect([error.code, error.message]).toEqual(['InvalidSignatureException', mismatch]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
