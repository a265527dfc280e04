import * as crypto from 'node:crypto';

// crypto.hash (Node >= 20.12) is a one-shot digest, several times cheaper than createHash for short inputs.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

/** SHA-256 of a UTF-8 string as lowercase hex. */
export const sha256Hex: (text: string) => string = oneShot
  ? (text) => oneShot('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** Whether a value is already a SHA-256 hex digest (then it is passed through, not hashed again). */
export function isSha256Hex(text: string): boolean {
  return text.length === 64 && SHA256_HEX.test(text);
}
