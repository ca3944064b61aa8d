/** The streaming image pipeline: what the deploy step calls. */
export { writeImage } from './write-image.ts';
export { wipeImageRemnants } from './sink/wipe.ts';
export { detectImageFormat, type ImageFormat } from './decode/format.ts';
export { digestsMatch, parseExpectedDigest, type DigestAlgorithm, type ExpectedDigest } from '../request/checksums.ts';
export type { BackoffOptions, ImageExpectations, WriteImageOptions, WriteImageProgress, WriteImageRequest, WriteImageResult } from './types.ts';
export { proxyFor, type ImageProxies } from '../request/proxy-for.ts';
export type { RangeRead } from './http/read-range.ts';
