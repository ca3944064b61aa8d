import type { AgentConfig } from '../config.ts';
import type { WriteImageOptions } from '../image/pipeline/index.ts';

/** How images are downloaded, from the agent's settings (ipa-image-download-*, ipa-ca-file). */
export interface ImageDownloadSettings {
  write: Partial<WriteImageOptions>;
  /** Trusted CAs (PEM) for https image URLs, instead of the system store, as IPA's `cafile`. */
  caPem?: string;
}

type DownloadConfig = Pick<AgentConfig,
  'imageDownloadConnectionTimeout' | 'imageDownloadConnectionRetries' | 'imageDownloadConnectionRetryInterval' | 'imageDownloadMaxDuration' | 'imageStagingDir'>;

/** IPA's image download settings (ipa-protocol.md 9.4); https image URLs trust ipa-ca-file as IPA's cafile does. */
export function readDownloadSettings(config: DownloadConfig, caPem: string | undefined): ImageDownloadSettings {
  return {
    write: {
      stallTimeoutMs: config.imageDownloadConnectionTimeout * 1000,
      retries: config.imageDownloadConnectionRetries,
      backoff: { initialMs: Math.min(1000, config.imageDownloadConnectionRetryInterval * 1000), maxMs: config.imageDownloadConnectionRetryInterval * 1000, factor: 2 },
      totalTimeoutMs: config.imageDownloadMaxDuration * 1000,
      ...(config.imageStagingDir ? { stagingDir: config.imageStagingDir } : {}),
    },
    ...(caPem ? { caPem } : {}),
  };
}
