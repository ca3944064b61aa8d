export * from './errors.ts';
export * from './types.ts';
export * from './snapshot.ts';
export * from './strict-bool.ts';
export * from './redact-url.ts';
export * from './describe-input.ts';
export { cryptSha512, isCryptHash, newCryptSalt } from './crypt-hash.ts';
