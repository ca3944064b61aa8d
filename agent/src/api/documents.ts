/** The version documents of the agent API root (reference 1.4). */
function versionObject(root: string) {
  return {
    id: 'v1',
    links: [
      { href: `${root}/v1`, rel: 'self' },
      { href: 'https://docs.openstack.org/ironic-python-agent/', rel: 'describedby', type: 'text/html' },
    ],
  };
}

export function rootDocument(root: string) {
  const version = versionObject(root);
  return {
    name: 'OpenStack Ironic Python Agent API',
    description: 'Ironic Python Agent is a provisioning agent for OpenStack Ironic (implemented by Ingot)',
    versions: [version],
    default_version: version,
  };
}

export function v1Document(root: string) {
  return {
    ...versionObject(root),
    commands: [
      { href: `${root}/v1/commands`, rel: 'self' },
      { href: `${root}/commands`, rel: 'bookmark' },
    ],
    status: [
      { href: `${root}/v1/status`, rel: 'self' },
      { href: `${root}/status`, rel: 'bookmark' },
    ],
    media_types: [{ base: 'application/json', type: 'application/vnd.openstack.ironic-python-agent.v1+json' }],
  };
}

export function statusDocument(startedAt: number, version: string) {
  return { started_at: startedAt / 1000, version };
}
