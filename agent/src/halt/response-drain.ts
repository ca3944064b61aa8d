import type http from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lets the agent stop its API right after a reply that must still reach the
 * conductor (finalize_rescue, lockdown: Ironic requires their SUCCEEDED,
 * ipa-protocol.md 4.2). ApiServer.close() cuts every connection at once,
 * which could drop a reply still in a socket's buffer, so the handler is
 * wrapped here: once draining, every reply not yet sent says
 * `Connection: close`, Node then ends its socket after flushing it, and
 * `drain` settles when those sockets have closed.
 */
export interface ResponseDrain {
  wrap(handler: http.RequestListener): http.RequestListener;
  /** From now on replies close their connection; settles when those in flight have been sent and closed, or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
}

export function createResponseDrain(): ResponseDrain {
  const inFlight = new Map<http.ServerResponse, Socket>();
  let draining = false;

  const closeAfterReply = (res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  return {
    wrap(handler) {
      return (req, res) => {
        inFlight.set(res, req.socket);
        res.once('close', () => { inFlight.delete(res); });
        if (draining) closeAfterReply(res);
        handler(req, res);
      };
    },
    async drain(timeoutMs) {
      draining = true;
      const sockets = [...inFlight].map(([res, socket]) => {
        closeAfterReply(res);
        return socket.destroyed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve()));
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(sockets), new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
      clearTimeout(timer);
    },
  };
}
