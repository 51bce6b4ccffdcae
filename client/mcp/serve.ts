import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { GatewayLogger } from './logger';
import type { McpGateway } from './gateway';

export interface Serving {
  /** Resolves when the agent side is done: stdin closed, or close() was called. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** The agent speaks MCP on our stdin/stdout; the session ends when stdin closes. */
export async function serveStdio(gateway: McpGateway): Promise<Serving> {
  const server = gateway.createServer();
  const transport = new StdioServerTransport();
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  const forget = server.onclose;
  server.onclose = () => {
    forget?.();
    done();
  };
  process.stdin.once('end', done);
  process.stdin.once('close', done);
  await server.connect(transport);
  return { closed, close: async () => { await server.close(); done(); } };
}

/** Streamable HTTP on http://HOST:PORT/mcp, one MCP session per agent connection. */
export async function serveHttp(gateway: McpGateway, listen: { host: string; port: number }, logger: GatewayLogger): Promise<Serving & { url: string }> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(listen.host);
  let allowedHosts: string[] = [];

  const http = createServer((req, res) => {
    handle(req, res).catch((err) => {
      logger.error({ err }, 'MCP HTTP request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bound to loopback: refuse other Host and Origin headers, so a web page cannot reach the gateway (DNS rebinding).
    if (loopback && (!allowedHosts.includes(req.headers.host ?? '') || (req.headers.origin && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(req.headers.origin)))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden host or origin.\n');
      return;
    }
    if (new URL(req.url ?? '/', 'http://gateway').pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('The MCP endpoint is /mcp.\n');
      return;
    }
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (existing) return existing.handleRequest(req, res);
    if (sessionId !== undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const server = gateway.createServer();
    await server.connect(transport);
    await transport.handleRequest(req, res);
    if (!transport.sessionId) await server.close(); // not an initialize request: no session to keep
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(listen.port, listen.host, resolve);
  });
  const port = (http.address() as AddressInfo).port;
  allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}/mcp`;
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  return {
    url,
    closed,
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      done();
    },
  };
}
