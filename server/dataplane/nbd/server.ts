/**
 * The NBD server: serves BlockDevices to NBD clients (qemu-img, nbdcopy, fio, nbd-client) over
 * Unix and loopback TCP sockets. Fixed-newstyle handshake, simple replies; docs/nbd.md lists
 * what is supported and every error answer.
 *
 * `exports(name)` must return the same BlockDevice for every connection to an export: the
 * server advertises NBD_FLAG_CAN_MULTI_CONN, which promises that a FLUSH on one connection
 * covers writes acknowledged on the others.
 */
import { lstat, rm } from 'node:fs/promises';
import net from 'node:net';
import type { BlockDevice } from '../block-device';
import { NbdConnection, type NbdLogger } from './connection';
import type { ExportCatalogue, ExportListing } from './handshake';

export type { ExportListing } from './handshake';
export type { NbdLogger } from './connection';

export interface NbdServerOptions {
  /** The device behind an export name, or undefined when there is none. */
  exports: (name: string) => BlockDevice | undefined;
  /** What NBD_OPT_LIST answers. */
  list: () => ExportListing[];
  logger?: NbdLogger;
  /** A client must finish option haggling within this time; 0 disables. Default 30 s. */
  handshakeTimeoutMs?: number;
}

export interface NbdConnectionCounts {
  /** Connections open now. */
  open: number;
  /** Of those, still in option haggling. */
  handshaking: number;
  /** Of those, serving requests. */
  transmitting: number;
  /** Connections accepted since the server started. */
  accepted: number;
}

export interface NbdServer {
  listenUnix(path: string): Promise<void>;
  /** Listens on host (default 127.0.0.1) and port (default 0: any free port); returns the bound address. */
  listenTcp(host?: string, port?: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, answers every request in flight, then closes every connection. */
  close(): Promise<void>;
  connectionCounts(): NbdConnectionCounts;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

const silentLogger: NbdLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

export function createNbdServer(options: NbdServerOptions): NbdServer {
  const logger = options.logger ?? silentLogger;
  const catalogue: ExportCatalogue = { exports: options.exports, list: options.list };
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 30_000;
  const listeners: net.Server[] = [];
  const unixPaths: string[] = [];
  const connections = new Set<NbdConnection>();
  let accepted = 0;
  let closing: Promise<void> | undefined;

  function accept(socket: net.Socket, peer: string): void {
    if (closing) {
      socket.destroy();
      return;
    }
    accepted += 1;
    const connection = new NbdConnection(socket, { catalogue, logger, handshakeTimeoutMs, peer });
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
  }

  function listen(server: net.Server, bind: (onListening: () => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      bind(() => {
        server.off('error', reject);
        server.on('error', (error) => logger.warn('nbd listener error', { error: error.message }));
        listeners.push(server);
        resolve();
      });
    });
  }

  function newListener(describePeer: (socket: net.Socket) => string): net.Server {
    // allowHalfOpen: a client that shuts down its sending side still gets its replies.
    return net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => accept(socket, describePeer(socket)));
  }

  return {
    async listenUnix(path) {
      if (closing) throw new Error('the NBD server is closed');
      // A socket file left by a previous run would make listen fail with EADDRINUSE; one that
      // a live server still answers on is not ours to take.
      const existing = await lstat(path).catch(() => undefined);
      if (existing?.isSocket()) {
        if (await answers(path)) throw new Error(`another server is listening on ${path}; stop it or choose another socket path`);
        await rm(path, { force: true });
      }
      const server = newListener(() => `unix:${path}`);
      await listen(server, (onListening) => server.listen(path, onListening));
      unixPaths.push(path);
    },

    async listenTcp(host = '127.0.0.1', port = 0) {
      if (closing) throw new Error('the NBD server is closed');
      const server = newListener((socket) => `tcp:${socket.remoteAddress}:${socket.remotePort}`);
      await listen(server, (onListening) => server.listen(port, host, onListening));
      const address = server.address() as net.AddressInfo;
      return { host: address.address, port: address.port };
    },

    close() {
      closing ??= (async () => {
        const stopped = listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
        await Promise.all([...connections].map((connection) => connection.shutdown()));
        await Promise.all(stopped);
        await Promise.all(unixPaths.map((path) => rm(path, { force: true })));
      })();
      return closing;
    },

    connectionCounts() {
      let handshaking = 0;
      let transmitting = 0;
      for (const connection of connections) {
        if (connection.phase === 'handshake') handshaking += 1;
        else if (connection.phase === 'transmission') transmitting += 1;
      }
      return { open: connections.size, handshaking, transmitting, accepted };
    },
  };
}
