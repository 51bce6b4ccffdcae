import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, isLegacyRequest, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { serveStdio as serveMcpStdio } from '@modelcontextprotocol/server/stdio';
import type { GatewayLogger } from './logger';
import type { McpGateway } from './gateway';
import { loadTaskWire } from './tasks';

export interface Serving {
  /** Resolves when the agent side is done: stdin closed, or close() was called. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * The agent speaks MCP on our stdin/stdout; the session ends when stdin closes. The SDK's entry
 * picks the era from the agent's opening: 2025's initialize, or 2026-07-28's server/discover.
 */
export async function serveStdio(gateway: McpGateway, logger?: GatewayLogger): Promise<Serving> {
  await loadTaskWire();
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  process.stdin.once('end', done);
  process.stdin.once('close', done);
  const handle = serveMcpStdio(({ era }) => gateway.createServer(era), { onerror: (err) => logger?.debug({ err }, 'MCP stdio error') });
  return { closed, close: async () => { await handle.close(); done(); } };
}

/**
 * Streamable HTTP on http://HOST:PORT/mcp. A 2025-era agent gets one MCP session per connection, as
 * before; a 2026-07-28 request is served on its own (that revision keeps no session).
 */
export async function serveHttp(gateway: McpGateway, listen: { host: string; port: number }, logger: GatewayLogger): Promise<Serving & { url: string }> {
  await loadTaskWire();
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const modern = createMcpHandler(({ era }) => gateway.createServer(era), { legacy: 'reject', onerror: (err) => logger.debug({ err }, 'MCP request refused') });
  gateway.onToolsChanged(() => modern.notify.toolsChanged()); // to 2026-07-28 agents listening (subscriptions/listen)
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(listen.host);
  let allowedHosts: string[] = [];

  async function handle(request: Request): Promise<Response> {
    // Bound to loopback: refuse other Host and Origin headers, so a web page cannot reach the gateway (DNS rebinding).
    const origin = request.headers.get('origin');
    if (loopback && (!allowedHosts.includes(request.headers.get('host') ?? '') || (origin && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(origin)))) {
      return new Response('Forbidden host or origin.\n', { status: 403, headers: { 'content-type': 'text/plain' } });
    }
    if (new URL(request.url).pathname !== '/mcp') return new Response('The MCP endpoint is /mcp.\n', { status: 404, headers: { 'content-type': 'text/plain' } });
    if (!(await isLegacyRequest(request))) return modern.fetch(request);
    const sessionId = request.headers.get('mcp-session-id');
    const existing = sessionId !== null ? sessions.get(sessionId) : undefined;
    if (existing) return existing.handleRequest(request);
    if (sessionId !== null) return Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }, { status: 404 });
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const server = gateway.createServer('legacy');
    await server.connect(transport);
    const response = await transport.handleRequest(request);
    if (!transport.sessionId) await server.close(); // not an initialize request: no session to keep
    return response;
  }

  const listener = toNodeHandler({ fetch: handle }, { onerror: (err) => logger.error({ err }, 'MCP HTTP request failed') });
  const http = createServer((req, res) => {
    listener(req, res).catch((err) => {
      logger.error({ err }, 'MCP HTTP request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
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
      await modern.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      done();
    },
  };
}
