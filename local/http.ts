import type { IncomingMessage, Server } from 'node:http';

/** A request body read in full; bytes past `limit` are counted but not kept. */
export interface ReadBody {
  readonly body: Buffer;
  /** Every byte received, kept or not. */
  readonly bytes: number;
  readonly truncated: boolean;
}

/**
 * Reads a request body to its end. The whole body is always drained (even past `limit`) so the client
 * can finish sending and read our answer instead of failing with EPIPE.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<ReadBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let kept = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (kept + chunk.length <= limit) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks), bytes, truncated: bytes > kept }));
    req.on('error', reject);
  });
}

/** Approximate size of the request line and headers, as a service counting the whole request sees it. */
export function headerBytes(req: IncomingMessage): number {
  let size = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    size += (req.rawHeaders[i]?.length ?? 0) + (req.rawHeaders[i + 1]?.length ?? 0) + 4;
  }
  return size;
}

/**
 * Starts listening and returns the base URL.
 * @throws the listen error (port in use, permission denied).
 */
export function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error(`unexpected server address ${String(address)}`));
        return;
      }
      resolve(`http://${host}:${address.port}`);
    });
  });
}

/** Stops a server, dropping idle keep-alive connections so close() does not wait for them to time out. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
