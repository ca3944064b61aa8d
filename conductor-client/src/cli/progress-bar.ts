/**
 * The bar moved to `@ingot/protocol/cli`, where every Ingot command finds it;
 * `@ingot/conductor-client/progress-bar` keeps exporting the same API.
 */
export { createProgressBar, formatProgressLine, progressLine, type ProgressBar, type ProgressBarOptions, type ProgressBarOutput, type ProgressFigures } from '@ingot/protocol/cli';
