/**
 * A small TCP proxy on loopback that can partition: while partitioned it forwards nothing in
 * either direction and holds new connections without reaching the upstream, as a network that
 * drops every packet would (bytes already sent wait in the kernel's buffers, and a caller with a
 * timeout gives up); when healed, held connections reach the upstream and traffic flows again.
 * It does not reset connections: a partition is silence, not a refusal.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export class TcpProxy {
  private partitioned = false;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  private readonly held: (() => void)[] = [];
  partitions = 0;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 (`port` 0 picks one) and forwards to 127.0.0.1:`upstreamPort`. */
  static async start(upstreamPort: number, port = 0): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port);
    server.on('connection', (client) => proxy.accept(client, upstreamPort));
    return proxy;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket, upstreamPort: number) {
    const pair: { client: net.Socket; upstream: net.Socket | null } = { client, upstream: null };
    this.pairs.add(pair);
    client.pause();
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on('error', end).on('close', end);
    const connect = () => {
      if (client.destroyed) return;
      const upstream = net.connect(upstreamPort, '127.0.0.1');
      pair.upstream = upstream;
      upstream.on('error', end).on('close', end);
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('data', (chunk) => upstream.write(chunk));
      if (this.partitioned) upstream.pause();
      else client.resume();
    };
    if (this.partitioned) this.held.push(connect);
    else connect();
  }

  /** Drops all traffic until `heal`: nothing is read from either side of any connection. */
  partition() {
    this.partitioned = true;
    this.partitions += 1;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  heal() {
    this.partitioned = false;
    for (const { client, upstream } of this.pairs) {
      if (upstream) {
        client.resume();
        upstream.resume();
      }
    }
    for (const connect of this.held.splice(0)) connect();
  }

  async close() {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port free on 127.0.0.1 at the moment of asking. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
