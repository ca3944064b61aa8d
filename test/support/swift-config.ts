/**
 * The config files of the all-in-one Swift in test/support/swift-server.ts:
 * swift.conf and one paste-deploy file per server, everything on 127.0.0.1
 * and inside the state dir. Pure: the caller writes them.
 */
export interface SwiftPorts {
  proxy: number;
  account: number;
  container: number;
  object: number;
  memcached: number;
}

export interface SwiftConfigInput {
  stateDir: string;
  devices: string;
  ports: SwiftPorts;
  /** tempauth's `account:user` and its key. */
  user: string;
  key: string;
}

// workers = 0: one process per server, no forked workers (Swift's test mode),
// so each server is one PID in its own group.
function common(input: SwiftConfigInput, name: string, port: number): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
swift_dir = ${input.stateDir}
devices = ${input.devices}
mount_check = false
log_name = ${name}
log_level = INFO
`;
}

function storageServer(input: SwiftConfigInput, kind: 'account' | 'container' | 'object', port: number): string {
  return `${common(input, `${kind}-server`, port)}
[pipeline:main]
pipeline = healthcheck ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}

[filter:healthcheck]
use = egg:swift#healthcheck
`;
}

// The order follows Debian's sample proxy-server.conf, with s3api just before
// tempauth (as the sample says), and without ratelimit, container_sync and quotas.
const PIPELINE = 'catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server';
const PLAIN_FILTERS = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'listing_formats', 'bulk', 'tempurl', 'copy', 'slo', 'dlo', 'versioned_writes', 'symlink'];

function proxyServer(input: SwiftConfigInput): string {
  const [account, user] = input.user.split(':');
  const filters = PLAIN_FILTERS.map((name) => `[filter:${name}]\nuse = egg:swift#${name.replace('-', '_')}\n`).join('\n');
  return `${common(input, 'proxy-server', input.ports.proxy)}
[pipeline:main]
pipeline = ${PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${input.ports.memcached}

[filter:tempauth]
use = egg:swift#tempauth
user_${account}_${user} = ${input.key} .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

${filters}`;
}

const SWIFT_CONF = `[swift-hash]
swift_hash_path_suffix = ingot-test-suffix
swift_hash_path_prefix = ingot-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
`;

/** File name (in the state dir) to its text. */
export function renderSwiftConfigs(input: SwiftConfigInput): Record<string, string> {
  return {
    'swift.conf': SWIFT_CONF,
    'account-server.conf': storageServer(input, 'account', input.ports.account),
    'container-server.conf': storageServer(input, 'container', input.ports.container),
    'object-server.conf': storageServer(input, 'object', input.ports.object),
    'proxy-server.conf': proxyServer(input),
  };
}
