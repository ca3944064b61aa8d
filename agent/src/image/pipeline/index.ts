/** The streaming image pipeline: what the deploy step calls. */
export { writeImage } from './write-image.ts';
export { wipeImageRemnants } from './wipe.ts';
export { detectImageFormat, type ImageFormat } from '../format.ts';
export { digestsMatch, parseExpectedDigest, type DigestAlgorithm, type ExpectedDigest } from './checksum.ts';
export type { BackoffOptions, WriteImageOptions, WriteImageProgress, WriteImageRequest, WriteImageResult } from './types.ts';
export { proxyFor, type ImageProxies } from '../proxy-for.ts';
