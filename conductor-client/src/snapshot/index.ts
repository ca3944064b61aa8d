/**
 * `@ingot/conductor-client/snapshot`: where a conductor puts snapshots
 * (Swift, S3, plain HTTP PUT), and the signing those stores need.
 */
export { createSwiftStore, type SwiftStoreOptions } from './swift-store.ts';
export { createS3Store, type S3StoreOptions } from './s3-store.ts';
export { createHttpPutStore, type HttpPutStoreOptions } from './http-put-store.ts';
export { DEFAULT_URL_TTL_SECONDS, manifestName, parseSnapshotManifest, type SnapshotStore } from './snapshot-store.ts';
export { planSegments, worstCaseImageBytes, zstdCompressBound, type SegmentPlan } from './segment-plan.ts';
export { swiftTempUrl, tempUrlQuery } from './swift-temp-url.ts';
export { presignS3Url, type PresignRequest, type S3Credentials } from './s3-presign.ts';
