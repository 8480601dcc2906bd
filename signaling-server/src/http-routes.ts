/**
 * Plain HTTP next to socket.io: `/healthz` (JSON `{ ok, rooms }`), then the built client.
 * Registered before socket.io attaches: engine.io then hands over every request not under
 * /socket.io/.
 */
import type { Server as HttpServer } from 'node:http';
import { errorMessage } from '@tabswarm/shared/protocol';
import type { Logger } from './connection.ts';
import { sendText, serveStatic } from './static-files.ts';

export interface HttpRoutes {
  /** Directory of the built client. */
  staticDir: string;
  /** How many rooms are open, for /healthz. */
  roomCount(): number;
  log: Logger;
}

export function serveHttpRoutes(httpServer: HttpServer, routes: HttpRoutes): void {
  httpServer.on('request', (req, res) => {
    if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) {
      sendText(res, 200, JSON.stringify({ ok: true, rooms: routes.roomCount() }), 'application/json; charset=utf-8');
      return;
    }
    serveStatic(routes.staticDir, req, res).catch((err: unknown) => {
      routes.log.error(`static url=${JSON.stringify(req.url)} ${errorMessage(err)}`);
      if (!res.headersSent) sendText(res, 500, 'internal server error\n');
      else res.destroy();
    });
  });
}
