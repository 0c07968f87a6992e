import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { syncResponseOf } from '../../agent/client.ts';
import { LocalDoorbell, signedDoorbellPath } from '../../core/doorbell/in-process.ts';
import { createSqsDoorbells } from '../../core/doorbell/sqs.ts';

// Doorbell addresses: a presigned SQS ReceiveMessage on AWS (checked here against SigV4 computed
// by hand, as SQS would check it), and `berth up`'s signed stand-in.

const credentials = {
  accessKeyId: 'ASIAEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjE+session/token==',
};
const instanceId = '0123456789abcdef0123456789abcdef';

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
/** RFC 3986, as SigV4's canonical query wants it. */
const encode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** What SQS computes for a query-string-signed GET (AWS's SigV4 documentation, step by step). */
const expectedSignature = (url: URL, secret: string) => {
  const params = [...url.searchParams.entries()].filter(([name]) => name !== 'X-Amz-Signature');
  const canonicalQuery = params
    .map(([name, value]): [string, string] => [encode(name), encode(value)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [
    'GET',
    url.pathname,
    canonicalQuery,
    `host:${url.host}`,
    '',
    'host',
    sha256(''),
  ].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
  const scope = (url.searchParams.get('X-Amz-Credential') ?? '').split('/').slice(1).join('/');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const [date, region, service] = scope.split('/') as [string, string, string];
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return hmac(key, stringToSign).toString('hex');
};

describe('a presigned SQS doorbell address', () => {
  const doorbells = createSqsDoorbells({
    region: 'eu-west-1',
    accountId: '123456789012',
    prefix: 'berth-prod-bell-',
    credentials,
  });

  it('is a ReceiveMessage long-poll on the instance queue, signed as SigV4 prescribes', async () => {
    // Act
    const address = await doorbells.address(instanceId);
    // Assess
    const url = new URL(address.url);
    expect(url.host).toBe('sqs.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe(`/123456789012/berth-prod-bell-${instanceId}`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      Action: 'ReceiveMessage',
      Version: '2012-11-05',
      WaitTimeSeconds: '20',
      MaxNumberOfMessages: '10',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Expires': '900',
      'X-Amz-SignedHeaders': 'host',
      'X-Amz-Security-Token': credentials.sessionToken,
    });
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^ASIAEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, credentials.secretAccessKey));
    expect(address.validForSeconds).toBe(900);
  });

  it('stops matching its signature when anything in it is changed', async () => {
    // Prepare
    const url = new URL((await doorbells.address(instanceId)).url);
    const signature = url.searchParams.get('X-Amz-Signature');
    // Act: another queue, and another action.
    const otherQueue = new URL(url);
    otherQueue.pathname = `/123456789012/berth-prod-bell-${'f'.repeat(32)}`;
    const otherAction = new URL(url);
    otherAction.searchParams.set('Action', 'DeleteQueue');
    // Assess
    expect(expectedSignature(otherQueue, credentials.secretAccessKey)).not.toBe(signature);
    expect(expectedSignature(otherAction, credentials.secretAccessKey)).not.toBe(signature);
  });
});

describe("berth up's signed doorbell address", () => {
  const queryOf = (url: string) => new URL(url, 'http://127.0.0.1').searchParams;

  it('names its instance without a token until it expires', async () => {
    // Prepare
    let now = Date.parse('2026-11-26T00:00:00Z');
    const doorbell = new LocalDoorbell('key', () => now);
    // Act
    const address = await doorbell.address(instanceId);
    const fresh = doorbell.instanceOfAddress(queryOf(address.url));
    now += 900_000;
    const expired = doorbell.instanceOfAddress(queryOf(address.url));
    // Assess
    expect(address.url.startsWith(`${signedDoorbellPath}?`)).toBe(true);
    expect(fresh).toEqual({ instanceId, wait: 20 });
    expect(expired).toEqual({ refused: 'The doorbell address has expired.' });
  });

  it('is refused when tampered with or signed by another control plane', async () => {
    // Prepare
    const doorbell = new LocalDoorbell('key');
    const query = queryOf((await doorbell.address(instanceId)).url);
    const otherInstance = new URLSearchParams(query);
    otherInstance.set('instance', 'f'.repeat(32));
    const longer = new URLSearchParams(query);
    longer.set('expires', String(Number(query.get('expires')) + 3600));
    // Act
    const answers = [
      doorbell.instanceOfAddress(otherInstance),
      doorbell.instanceOfAddress(longer),
      new LocalDoorbell('another key').instanceOfAddress(query),
      doorbell.instanceOfAddress(new URLSearchParams({ instance: instanceId })),
    ];
    // Assess
    for (const answer of answers) {
      expect(answer).toEqual({ refused: 'The doorbell address is not signed by this control plane.' });
    }
  });
});

describe('the agent reading a sync answer', () => {
  const answer = (doorbell: unknown) => ({ assignmentVersion: 3, acked: [], heartbeatSeconds: 60, doorbell });

  it('keeps a doorbell address, and ignores a malformed one', () => {
    // Act
    const kept = syncResponseOf(answer({ url: 'https://sqs.example/q?x=1', validForSeconds: 900 }));
    const malformed = [
      answer({ url: 42, validForSeconds: 900 }),
      answer({ url: 'https://sqs.example/q', validForSeconds: 0 }),
      answer('https://sqs.example/q'),
      answer(undefined),
    ].map((body) => syncResponseOf(body));
    // Assess
    expect(kept.doorbell).toEqual({ url: 'https://sqs.example/q?x=1', validForSeconds: 900 });
    for (const response of malformed) {
      expect(response.doorbell).toBeUndefined();
      expect(response.assignmentVersion).toBe(3);
    }
  });
});
