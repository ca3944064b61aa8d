import path from 'node:path';

/** Everything the generated ironic.conf depends on. */
export interface IronicConfigInput {
  stateDir: string;
  port: number;
  fastTrack: boolean;
  /** [deploy]fast_track_timeout in seconds; default: the heartbeat timeout (at most 300). */
  fastTrackTimeout?: number;
  /** [api]ramdisk_heartbeat_timeout, sent to the agent in the lookup reply. */
  heartbeatTimeout: number;
  /** [conductor]clean_callback_timeout and deploy_callback_timeout. */
  callbackTimeout: number;
  requireTls: boolean;
}

/** Folders Ironic expects to exist under STATE (ironic-standalone.md, "Configuration"). */
export const STATE_SUBDIRS = ['tmp', 'locks', 'httpboot', 'certs', 'deploy-logs', 'images', 'master_images', 'tftpboot', 'tftpboot/master_images'] as const;

/**
 * Renders the configuration of ironic-standalone.md ("Configuration that
 * worked"), with the timers shortened so that a whole cleaning cycle takes
 * seconds instead of minutes.
 */
export function renderIronicConfig(input: IronicConfigInput): string {
  const state = path.resolve(input.stateDir);
  const url = `http://127.0.0.1:${input.port}`;
  const sections: Record<string, Record<string, string | number | boolean>> = {
    DEFAULT: {
      auth_strategy: 'noauth',
      rpc_transport: 'none',
      host: 'ingot-integration',
      debug: true,
      log_file: path.join(state, 'ironic.log'),
      state_path: state,
      tempdir: path.join(state, 'tmp'),
      my_ip: '127.0.0.1',
      // SIGTERM otherwise waits up to 60 s for in-flight work.
      graceful_shutdown_timeout: 5,
      // manual-management is what the tests enrol: its `noop` management
      // accepts "boot from disk" at the end of a deploy, which fake-hardware's
      // `fake` management refuses (it knows only PXE). Its boot interface is
      // `pxe`, which writes real PXE configurations into [pxe]tftp_root and
      // fetches the deploy kernel and ramdisk (ironic-standalone.md, "Pitfalls").
      enabled_hardware_types: 'fake-hardware,manual-management',
      enabled_boot_interfaces: 'fake,pxe',
      enabled_deploy_interfaces: 'direct,fake',
      enabled_power_interfaces: 'fake',
      enabled_management_interfaces: 'fake,noop',
      enabled_network_interfaces: 'noop',
      enabled_inspect_interfaces: 'no-inspect',
      enabled_raid_interfaces: 'no-raid,agent',
      enabled_rescue_interfaces: 'no-rescue',
      enabled_vendor_interfaces: 'no-vendor',
      enabled_console_interfaces: 'no-console',
      enabled_bios_interfaces: 'no-bios',
      enabled_storage_interfaces: 'noop',
      // No default boot or management interface: none is supported by both
      // hardware types, and a default one does not support fails the start.
      default_deploy_interface: 'direct',
      default_power_interface: 'fake',
      default_network_interface: 'noop',
      default_raid_interface: 'no-raid',
    },
    api: {
      host_ip: '127.0.0.1',
      port: input.port,
      api_workers: 1,
      // The agent heartbeats at 0.3-0.6x this value (ironic-conductor.md §2, lookup config).
      ramdisk_heartbeat_timeout: input.heartbeatTimeout,
    },
    database: {
      // Four slashes before an absolute path: `sqlite:///` + `/abs/path`.
      connection: `sqlite:///${path.join(state, 'ironic.sqlite')}`,
    },
    conductor: {
      automated_clean: true,
      // How often clean/deploy callback timeouts are checked (default 60 s).
      check_provision_state_interval: 5,
      clean_callback_timeout: input.callbackTimeout,
      deploy_callback_timeout: input.callbackTimeout,
      // Fake power has nothing to sync; this only adds log noise.
      sync_power_state_interval: 0,
    },
    deploy: {
      // Only erase_devices_metadata (priority 99) runs in automated cleaning.
      erase_devices_priority: 0,
      fast_track: input.fastTrack,
      // The help text of conf/deploy.py says it should not exceed
      // [api]ramdisk_heartbeat_timeout; nothing enforces that (max 300).
      fast_track_timeout: Math.min(300, input.fastTrackTimeout ?? input.heartbeatTimeout),
      http_url: `${url}/httpboot-unused`,
      http_root: path.join(state, 'httpboot'),
    },
    agent: {
      // Auto-TLS: the agent's PEM from the heartbeat lands here as <node uuid>.crt.
      certificates_path: path.join(state, 'certs'),
      require_tls: input.requireTls,
      // The defaults, spelled out: when a step fails Ironic asks the agent for
      // log.collect_system_logs and stores the tar.gz here, named for the node.
      deploy_logs_collect: 'on_failure',
      deploy_logs_storage_backend: 'local',
      deploy_logs_local_path: path.join(state, 'deploy-logs'),
      post_deploy_get_power_state_retries: 1,
      post_deploy_get_power_state_retry_interval: 1,
      // GET /v1/commands/ polling for poll=True commands (default 6 s).
      command_wait_interval: 2,
    },
    pxe: {
      images_path: path.join(state, 'images'),
      instance_master_path: path.join(state, 'master_images'),
      // Default /tftpboot: the pxe boot interface writes the node's PXE config there.
      tftp_root: path.join(state, 'tftpboot'),
      tftp_master_path: path.join(state, 'tftpboot', 'master_images'),
    },
    dhcp: {
      // Default 'neutron'; with 'none' the pxe boot interface updates no DHCP server.
      dhcp_provider: 'none',
    },
    service_catalog: {
      // Gives the agent's API URL without Keystone.
      endpoint_override: url,
    },
    oslo_concurrency: {
      lock_path: path.join(state, 'locks'),
    },
  };
  return Object.entries(sections)
    .map(([name, options]) => {
      const lines = Object.entries(options).map(([key, value]) => `${key} = ${formatValue(value)}`);
      return `[${name}]\n${lines.join('\n')}\n`;
    })
    .join('\n');
}

function formatValue(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}
