import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Values kept encrypted at rest (SecureString parameters, secrets): AES-256-GCM under one 32-byte
 * key, with the item they belong to as associated data, so a sealed value copied onto another item
 * does not open. Sealed text: `v1.<iv>.<tag>.<ciphertext>`, each part base64url.
 */
export type Sealer = {
  seal: (plaintext: string, boundTo: string) => string;
  /** Throws when the text was not sealed by this key for this item (or was altered). */
  open: (sealed: string, boundTo: string) => string;
};

const version = 'v1';

export const createSealer = (key: Buffer): Sealer => {
  if (key.length !== 32) throw new Error(`a sealing key is 32 bytes, not ${key.length}`);
  return {
    seal: (plaintext, boundTo) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(boundTo));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [version, iv, cipher.getAuthTag(), ciphertext]
        .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
        .join('.');
    },
    open: (sealed, boundTo) => {
      const [tag, iv, authTag, ciphertext, extra] = sealed.split('.');
      if (tag !== version || iv === undefined || authTag === undefined || ciphertext === undefined || extra)
        throw new Error('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(Buffer.from(authTag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
  };
};
