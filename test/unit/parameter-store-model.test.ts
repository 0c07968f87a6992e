import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../core/auth/seal.ts';
import {
  checkParameterName,
  normalizePath,
  parameterArn,
  parentPathOf,
  parseParameterReference,
} from '../../core/model/parameter.ts';

const region = 'us-east-1';
const account = '000000000000';

describe('parameter names', () => {
  it('accepts SSM names and refuses the rest with the rule broken', () => {
    for (const name of ['db-host', '/app/db/host', 'a.b_c-d', '/x']) {
      expect(checkParameterName(name, region, account)).toBe(name);
    }
    const refusals: [string, RegExp][] = [
      ['', /not valid/],
      ['a#b', /not valid/],
      ['app/db', /fully qualified/],
      ['/app/', /empty level/],
      ['/app//db', /empty level/],
      ['aws-thing', /prefixed/],
      ['/SSM/thing', /prefixed/],
      [`/${'l/'.repeat(15)}x`, /15 levels/],
      [`/${'x'.repeat(1000)}`, /too long/],
    ];
    for (const [name, message] of refusals) {
      expect(() => checkParameterName(name, region, account), name).toThrow(message);
    }
  });

  it('names the parent path and the ARN as SSM does', () => {
    expect(parentPathOf('/a/b/c')).toBe('/a/b');
    expect(parentPathOf('/c')).toBe('/');
    expect(parentPathOf('c')).toBe('');
    expect(parameterArn(region, account, '/a/b')).toBe('arn:aws:ssm:us-east-1:000000000000:parameter/a/b');
    expect(parameterArn(region, account, 'plain')).toBe('arn:aws:ssm:us-east-1:000000000000:parameter/plain');
    expect(normalizePath('/a/b/')).toBe('/a/b');
    expect(normalizePath('/')).toBe('/');
    expect(() => normalizePath('a/b')).toThrow(/starts with/);
  });
});

describe('parameter references', () => {
  it('reads names, ARNs and version selectors', () => {
    expect(parseParameterReference('/a/b', region, account)).toEqual({ names: ['/a/b'] });
    expect(parseParameterReference('/a/b:3', region, account)).toEqual({
      names: ['/a/b'],
      version: 3,
      selector: ':3',
    });
    expect(parseParameterReference(parameterArn(region, account, '/a/b'), region, account)).toEqual({
      names: ['/a/b'],
    });
    // `parameter/x` is the ARN of both `x` and `/x`.
    expect(parseParameterReference(parameterArn(region, account, 'x'), region, account).names).toEqual([
      'x',
      '/x',
    ]);
  });

  it('refuses labels, foreign ARNs and malformed ARNs', () => {
    expect(() => parseParameterReference('/a/b:prod', region, account)).toThrow(/labels/);
    expect(() =>
      parseParameterReference('arn:aws:ssm:eu-west-1:000000000000:parameter/a', region, account),
    ).toThrow(/region/);
    expect(() =>
      parseParameterReference('arn:aws:ecs:us-east-1:000000000000:cluster/a', region, account),
    ).toThrow(/not a valid/);
  });
});

describe('sealing', () => {
  const sealer = createSealer(Buffer.alloc(32, 7));

  it('opens what it sealed, for the same item only', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (plaintext, item) => {
        const sealed = sealer.seal(plaintext, item);
        expect(sealer.open(sealed, item)).toBe(plaintext);
        expect(() => sealer.open(sealed, `${item}!`)).toThrow();
      }),
    );
  });

  it('refuses an altered value and another key', () => {
    const sealed = sealer.seal('secret', 'p');
    const [tag, iv, auth, body] = sealed.split('.') as [string, string, string, string];
    const flipped = `${body.slice(0, -1)}${body.endsWith('A') ? 'B' : 'A'}`;
    expect(() => sealer.open([tag, iv, auth, flipped].join('.'), 'p')).toThrow();
    expect(() => createSealer(Buffer.alloc(32, 8)).open(sealed, 'p')).toThrow();
    expect(() => sealer.open('plain text', 'p')).toThrow(/not a sealed value/);
    expect(sealed).not.toContain('secret');
  });
});
