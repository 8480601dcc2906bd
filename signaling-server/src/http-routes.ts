/**
 * Plain HTTP next to socket.io: `/healthz` (JSON `{ ok: true }`, nothing about rooms: anyone may
 * ask), `/metrics` (Prometheus text), the model files rooms train (`/models/<task>/...`,
 * model-store.ts), the organiser page and its API (behind the admin token;
 * 404 on a server without one), then the built client.
 * Registered before socket.io attaches: engine.io then hands over every request not under
 * /socket.io/.
 */
import type { Server as HttpServer } from 'node:http';
import { errorMessage, quote } from '@tabswarm/shared/protocol';
import type { Logger } from './connection.ts';
import type { ModelStore } from './model-store.ts';
import { isOrganisePath, serveOrganise, type OrganiseRoutes } from './organise-routes.ts';
import { sendText, serveStatic } from './static-files.ts';

export interface HttpRoutes {
  /** Directory of the built client. */
  staticDir: string;
  /** The metrics in Prometheus' text format, and its content type. */
  metrics(): Promise<{ type: string; text: string }>;
  /** The organiser's routes, if the server has an admin token (asked per request: they are made after the routes). */
  organise(): OrganiseRoutes | undefined;
  models: ModelStore;
  log: Logger;
}

export function serveHttpRoutes(httpServer: HttpServer, routes: HttpRoutes): void {
  httpServer.on('request', (req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      sendText(res, 200, JSON.stringify({ ok: true }), 'application/json; charset=utf-8');
      return;
    }
    if (path === '/metrics') {
      routes.metrics().then(({ type, text }) => sendText(res, 200, text, type), (err: unknown) => {
        routes.log.error(`metrics ${errorMessage(err)}`);
        sendText(res, 500, 'internal server error\n');
      });
      return;
    }
    if (path !== undefined && (req.method === 'GET' || req.method === 'HEAD') && routes.models.serve(path, res)) return;
    if (path !== undefined && isOrganisePath(path)) {
      const organise = routes.organise();
      if (organise) void serveOrganise(organise, req, res);
      else sendText(res, 404, 'not found: this server has no organiser page (start it with --admin-token)\n');
      return;
    }
    serveStatic(routes.staticDir, req, res).catch((err: unknown) => {
      routes.log.error(`static url=${quote(req.url)} ${errorMessage(err)}`);
      if (!res.headersSent) sendText(res, 500, 'internal server error\n');
      else res.destroy();
    });
  });
}
