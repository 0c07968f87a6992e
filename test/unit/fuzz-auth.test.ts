import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** `npm run chaos` runs these longer. */
const scale = Math.max(1, Number(process.env.BERTH_CHAOS_SCALE ?? 1) || 1);

import { hashSecret, sameHash } from '../../core/auth/secrets.ts';
import { type SignedRequest, verifySigV4 } from '../../core/auth/sigv4.ts';
import { BerthError } from '../../core/errors.ts';

/**
 * Hostile input at the authentication edge, before anything is parsed: the verifier must answer
 * every malformed Authorization, date, path or query with one of AWS's auth errors (never a crash,
 * never a pass), and secrets are compared only through their hashes, in constant time.
 */

const accessKeyId = 'AKIAFUZZFUZZFUZZFUZZ';
const secret = 'fuzzsecretfuzzsecretfuzzsecretfuzzsecret';
const now = new Date('2026-11-25T10:40:10Z');
const lookup = async (id: string) => (id === accessKeyId ? { secretAccessKey: secret } : undefined);
const authCodes = [
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'InvalidSignatureException',
  'UnrecognizedClientException',
];

const signed = async (body: string): Promise<SignedRequest> => {
  const signer = new SignatureV4({
    service: 'ecs',
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: secret },
    sha256: Hash.bind(null, 'sha256'),
  });
  const request = await signer.sign(
    {
      method: 'POST',
      protocol: 'https:',
      hostname: 'berth.example.com',
      path: '/',
      query: {},
      headers: {
        host: 'berth.example.com',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonEC2ContainerServiceV20141113.ListClusters',
      },
      body,
    },
    { signingDate: now },
  );
  return {
    method: 'POST',
    path: '/',
    query: '',
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
    body,
  };
};

const outcomeOf = async (request: SignedRequest): Promise<'accepted' | string> => {
  try {
    await verifySigV4(request, lookup, now);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof BerthError)) throw error;
    expect(error.kind).toBe('auth');
    return error.code;
  }
};

describe('verifySigV4 under hostile input', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.stringMatching(/^[A-Za-z0-9=,/ ;_-]{0,120}$/),
    fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-', 'AWS4-HMAC-SHA256 ,,,', 'AWS4-HMAC-SHA256 Credential=/////'),
  );

  it('answers any Authorization header it did not produce with an auth error', async () => {
    await fc.assert(
      fc.asyncProperty(text, text, async (prefix, rest) => {
        const request = await signed('{}');
        request.headers.authorization = `${prefix.startsWith('AWS4') ? '' : 'AWS4-HMAC-SHA256 '}${prefix}${rest}`;
        expect(authCodes).toContain(await outcomeOf(request));
      }),
      { numRuns: 300 * scale },
    );
  });

  it('refuses every single-field change of a signed request, whatever it is changed to', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'x-amz-date',
          'x-amz-target',
          'content-type',
          'host',
          'x-amz-content-sha256',
          'path',
          'query',
          'body',
          'method',
        ),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        async (field, value) => {
          const request = await signed('{"maxResults":10}');
          // Changes SigV4's canonical form does not see (header whitespace, dot segments, method case)
          // are the same request, not a tampered one.
          const folded = value.trim().replace(/\s+/g, ' ');
          if (field === 'path') {
            fc.pre(/[^./]/.test(value));
            request.path = `/${encodeURIComponent(value)}`;
          } else if (field === 'query') request.query = `${encodeURIComponent(value)}=1`;
          else if (field === 'body') request.body = `{"maxResults":10}${value || ' '}`;
          else if (field === 'method') {
            fc.pre(value.toUpperCase() !== 'POST');
            request.method = value || 'PUT';
          } else {
            fc.pre(request.headers[field]?.trim().replace(/\s+/g, ' ') !== folded);
            request.headers[field] = value;
          }
          expect(authCodes).toContain(await outcomeOf(request));
        },
      ),
      { numRuns: 300 * scale },
    );
  });
});

describe('secrets', () => {
  it('are stored as a SHA-256 hash and compared only hash to hash', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
        expect(hashSecret(a)).toMatch(/^[a-f0-9]{64}$/);
        expect(sameHash(hashSecret(a), hashSecret(b))).toBe(a === b);
        expect(sameHash(hashSecret(a), hashSecret(a))).toBe(true);
      }),
    );
  });

  it('never match a hash of another length, an empty one or one that is not hex', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: 'binary' }), (secret, garbage) => {
        const hash = hashSecret(secret);
        expect(sameHash(hash, hash.slice(0, -2))).toBe(false);
        expect(sameHash('', '')).toBe(false);
        fc.pre(!/^([a-f0-9]{2})*$/i.test(garbage) || garbage.length !== 64);
        expect(sameHash(hash, garbage)).toBe(false);
      }),
    );
  });
});
