import net from 'node:net';

/**
 * Asks the kernel for `count` distinct ports nobody listens on (there is a small race before the
 * caller binds them, acceptable locally). They are held open together while probing, so one call
 * never returns the same port twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      server.unref();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One port nobody listens on (see freePorts). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}
