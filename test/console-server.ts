/**
 * Serves Request → Response handlers (the console's agent routes) on a real node:http server on
 * 127.0.0.1, so tests can point real agent processes at them without starting Next.js.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export type Handler = (request: Request) => Promise<Response>;

export interface ConsoleServer {
  url: string;
  close(): Promise<void>;
}

/** `routes` is keyed by "METHOD /path", e.g. "POST /api/agent/v1/enrol"; port 0 picks a free port. */
export async function startConsoleServer(routes: Record<string, Handler>, port = 0): Promise<ConsoleServer> {
  const server = http.createServer((incoming, outgoing) => {
    serve(routes, incoming, outgoing).catch((error: unknown) => {
      if (!outgoing.headersSent) outgoing.writeHead(500, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify({ error: `test console server: ${(error as Error).message}`, code: 'internal' }));
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

async function serve(routes: Record<string, Handler>, incoming: http.IncomingMessage, outgoing: http.ServerResponse) {
  const url = new URL(incoming.url ?? '/', `http://${incoming.headers.host ?? '127.0.0.1'}`);
  const method = incoming.method ?? 'GET';
  const handler = routes[`${method} ${url.pathname}`];
  if (!handler) {
    incoming.resume();
    outgoing.writeHead(404, { 'content-type': 'application/json' });
    outgoing.end(JSON.stringify({ error: `no route ${method} ${url.pathname}`, code: 'not-found' }));
    return;
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
  }
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const init: RequestInit & { duplex?: 'half' } = {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>) : undefined,
    duplex: 'half',
  };
  const response = await handler(new Request(url, init));
  outgoing.writeHead(response.status, Object.fromEntries(response.headers));
  outgoing.end(Buffer.from(await response.arrayBuffer()));
  // A refusal may answer before the body was read (413); drop the rest instead of stalling the socket.
  if (!incoming.complete) incoming.resume();
}
