export * from './exit-codes.ts';
export * from './failure.ts';
export * from './program.ts';
export * from './progress-bar.ts';
