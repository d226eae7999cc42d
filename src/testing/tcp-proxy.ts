import net from 'node:net';

/**
 * A TCP proxy for resilience tests: sits between the service and PostgreSQL so a test can drop
 * every live connection (`cutAll`) or refuse new ones (`pause`) and later let them through again.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private listenPort = 0;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  constructor(
    private readonly targetHost = '127.0.0.1',
    private readonly targetPort = 5432,
  ) {}

  /** The port the proxy listens on (0 before `start`). */
  get port(): number {
    return this.listenPort;
  }

  /** Socket pairs currently forwarding. */
  get liveConnections(): number {
    return this.pairs.size;
  }

  /** Local ports of the proxy's connections to the target; the server sees them as `client_port`. */
  upstreamPorts(): number[] {
    return [...this.pairs].flatMap(({ upstream }) => (upstream.localPort === undefined ? [] : [upstream.localPort]));
  }

  /** Listens on `listenPort` (0: any free port) and resolves with the port taken. */
  async start(listenPort = 0): Promise<number> {
    if (this.server !== undefined) throw new Error('the proxy is already listening');
    const server = net.createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: listenPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listenPort = (server.address() as net.AddressInfo).port;
    return this.listenPort;
  }

  /** Drops every live connection at once, as a network failure would (the client side gets a reset). */
  cutAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Stops accepting connections (closes the listener: connecting gets refused); live ones keep flowing. */
  async pause(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    // `close`'s callback waits for live connections to end; the listening handle itself goes at once.
    await new Promise<void>((resolve) => {
      server.close();
      setImmediate(resolve);
    });
  }

  /** Listens again on the same port. */
  async resume(): Promise<void> {
    if (this.server !== undefined) return;
    await this.start(this.listenPort);
  }

  /** Drops every connection and stops listening. */
  async close(): Promise<void> {
    this.cutAll();
    await this.pause();
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    const pair = { client, upstream };
    this.pairs.add(pair);
    const teardown = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
