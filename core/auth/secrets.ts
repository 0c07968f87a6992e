import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Tokens and activation codes are 120+ bits of randomness, so a plain SHA-256 is enough to store
 * them (no dictionary to attack); only the hash is kept.
 */
export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Compares two hex hashes in constant time. */
export const sameHash = (a: string, b: string): boolean => {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
};

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random characters from [A-Za-z0-9], without modulo bias. */
export const randomString = (length: number): string => {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += alphabet[byte % 62];
    }
  }
  return out;
};

/** SSM activation codes are 20 characters. */
export const newActivationCode = (): string => randomString(20);
export const newAgentToken = (): string => `berth_${randomString(40)}`;
export const newId = (): string => randomUUID().replaceAll('-', '');
export const newActivationId = (): string => randomUUID();
/** Whether a string could be an activation id (a UUID as newActivationId makes them): others are never looked up. */
export const isActivationId = (id: string): boolean => /^[0-9a-f-]{36}$/.test(id);
/** ECS Anywhere names external instances by their SSM managed-instance id. */
export const newManagedInstanceId = (): string => `mi-${randomBytes(9).toString('hex').slice(0, 17)}`;

/** Berth's own access keys, shaped like AWS's (AKIA… / 40 characters). */
export const newAccessKeyPair = (): { accessKeyId: string; secretAccessKey: string } => ({
  accessKeyId: `AKIA${randomString(16).toUpperCase()}`,
  secretAccessKey: randomString(40),
});
