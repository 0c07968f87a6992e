import type { SecretLookup } from './sigv4.ts';

export type AccessKeyPair = { accessKeyId: string; secretAccessKey: string };

/** A lookup over a fixed set of key pairs (the admin pair of a stage or of `berth up`). */
export const staticKeys = (pairs: readonly AccessKeyPair[]): SecretLookup => {
  const secrets = new Map(pairs.map((pair) => [pair.accessKeyId, pair.secretAccessKey]));
  return async (accessKeyId) => {
    const secretAccessKey = secrets.get(accessKeyId);
    // Long-term keys: no session token, so a request that carries one is refused.
    return secretAccessKey === undefined ? undefined : { secretAccessKey };
  };
};
