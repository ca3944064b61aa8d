/** The per-node virtual-media configuration image (DHCP-less boot): what `image-build config-media` builds. */
export { buildConfigMedia, configMediaPaths, renderConfigFiles, type ConfigMediaOptions } from './build-config-media.ts';
export { parseStaticNetwork, renderNetworkData, type StaticNetwork } from './static-network.ts';
export { renderParameters } from './parameters.ts';
