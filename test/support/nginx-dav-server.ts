/**
 * Debian's nginx (1.22) as a plain HTTP PUT target, the `http_put` snapshot
 * target: WebDAV's PUT into a root directory that it also serves for GET (with
 * ranges), so a test can upload and read the object back. Chunked request
 * bodies (a streamed PUT of unknown size) work since nginx 1.3.9; nginx
 * spools the body to its client_body_temp_path and renames it into place when
 * complete, so a PUT cut midway leaves no object behind. Started, logged and
 * stopped like the image server (nginx-image-server.ts), whose start this
 * reuses.
 */
import { startImageServer, type ImageServer } from './nginx-image-server.ts';

export { checkNginxInstalled, type AccessLogEntry } from './nginx-image-server.ts';
export type DavServer = ImageServer;

const DAV_DIRECTIVES = `    dav_methods PUT;
    create_full_put_path on;
    dav_access user:rw group:r all:r;
    client_max_body_size 0;
`;

/** nginx serving and accepting PUTs under `root`; its config, logs and pid go to `stateDir`. */
export function startDavServer(options: { root: string; stateDir: string; log?: (line: string) => void }): Promise<DavServer> {
  return startImageServer({ ...options, serverDirectives: DAV_DIRECTIVES });
}
