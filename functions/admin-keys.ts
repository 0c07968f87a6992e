import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import type { AccessKeyPair } from '../core/auth/access-keys.ts';
import type { SecretLookup } from '../core/auth/sigv4.ts';

/** How long a read of the key pair is reused: a rotated pair is picked up within this time. */
const cacheSeconds = 300;

const isKeyPair = (value: unknown): value is AccessKeyPair =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as AccessKeyPair).accessKeyId === 'string' &&
  typeof (value as AccessKeyPair).secretAccessKey === 'string';

/**
 * The stage's admin key pair(s), read from an SSM SecureString parameter (infra/admin-keys.ts
 * creates it at deploy time) with Powertools Parameters, cached for five minutes. The parameter
 * holds one pair as JSON, or a list of pairs while a rotation is under way (old and new both work).
 * Without BERTH_ADMIN_KEYS_PARAMETER the handler's own lookup (env-var keys) answers.
 */
export const adminKeysFromSsm = (parameterName: string | undefined, fallback: SecretLookup): SecretLookup => {
  if (!parameterName) return fallback;
  return async (accessKeyId) => {
    const stored = await getParameter<unknown>(parameterName, {
      decrypt: true,
      transform: 'json',
      maxAge: cacheSeconds,
    });
    const pairs = (Array.isArray(stored) ? stored : [stored]).filter(isKeyPair);
    const pair = pairs.find((candidate) => candidate.accessKeyId === accessKeyId);
    return pair && { secretAccessKey: pair.secretAccessKey };
  };
};
