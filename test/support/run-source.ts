/**
 * How a test starts an Ingot entry point from its TypeScript sources, as
 * `npm run` does: node with tsx and the `@ingot/source` export condition, so
 * `@ingot/*` imports resolve to the workspace's sources, not to a `dist/` a
 * fresh clone has not built (README, "Installing the library").
 */
export const SOURCE_NODE_ARGS: readonly string[] = ['--conditions=@ingot/source', '--import', 'tsx'];
