/**
 * A 2026-07-28 agent for the MCP gateway: the SDK's own Client pinned to that revision (server/discover,
 * the per-request envelope), and on the same connection the tasks extension's requester session from
 * @modelcontextprotocol/ext-tasks, which declares the extension, answers a task by polling tasks/get,
 * and cancels with tasks/cancel. The SDK's Client does not carry task traffic itself (a result of
 * type "task" is not one it accepts), so the session sends it as raw JSON-RPC, as ext-tasks asks its
 * host to: here over the same stdio pipe (ids the Client never uses), or as plain HTTP POSTs.
 */
import { Client, StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { JsonRpcResponse, TaskEnabledSession } from '@modelcontextprotocol/ext-tasks/client' with { 'resolution-mode': 'import' };
import type { JsonValue } from '@modelcontextprotocol/ext-tasks/core' with { 'resolution-mode': 'import' };

type JsonRpcMessage = Parameters<Transport['send']>[0];
export const REVISION = '2026-07-28';

export interface ModernAgent {
  client: Client;
  tasks: TaskEnabledSession;
  /** The gateway process (stdio only). */
  pid?: number;
  stderr(): string;
  /** Protocol errors the Client saw. */
  errors: Error[];
  close(): Promise<void>;
}

/** A transport that hands the Client everything but the answers to requests sent around it (raw). */
class RawBeside implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport['onmessage'];
  private readonly waiting = new Map<string, (response: JsonRpcResponse) => void>();
  private next = 0;

  constructor(private readonly inner: Transport) {
    inner.onmessage = (message, extra) => {
      const id = (message as { id?: unknown }).id;
      const answer = typeof id === 'string' ? this.waiting.get(id) : undefined;
      if (!answer) return this.onmessage?.(message, extra);
      this.waiting.delete(id as string);
      const m = message as { result?: JsonValue; error?: { code: number; message: string; data?: JsonValue } };
      answer(m.error ? { kind: 'error', error: m.error } : { kind: 'result', result: m.result ?? null });
    };
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
  }

  start = () => this.inner.start();
  send = (message: JsonRpcMessage, options?: Parameters<Transport['send']>[1]) => this.inner.send(message, options);
  close = () => this.inner.close();
  setProtocolVersion = (version: string) => this.inner.setProtocolVersion?.(version);

  dispatch = (request: JsonValue): Promise<JsonRpcResponse> => {
    const id = `raw-${++this.next}`;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      this.inner.send({ jsonrpc: '2.0', id, ...(request as object) } as JsonRpcMessage).catch(reject);
    });
  };
}

async function connect(transport: Transport, dispatch: (request: JsonValue) => Promise<JsonRpcResponse>, endpointId: string): Promise<Pick<ModernAgent, 'client' | 'tasks' | 'errors'>> {
  const client = new Client({ name: 'modern-agent', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });
  const errors: Error[] = [];
  client.onerror = (err) => errors.push(err);
  await client.connect(transport);
  const { createTaskSessionFromClient } = await import('@modelcontextprotocol/ext-tasks/client');
  const tasks = createTaskSessionFromClient(client, {
    endpointId,
    rawDispatch: dispatch,
    v2RequestFraming: { protocolVersion: REVISION, clientInfo: { name: 'modern-agent', version: '1.0.0' }, clientCapabilities: {} },
  });
  return { client, tasks, errors };
}

/** The agent spawning the gateway on stdio, as an MCP host does. */
export async function modernStdioAgent(command: string, args: string[], env: Record<string, string>): Promise<ModernAgent> {
  const stdio = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
  let stderr = '';
  stdio.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const beside = new RawBeside(stdio);
  let connected: Pick<ModernAgent, 'client' | 'tasks' | 'errors'>;
  try {
    connected = await connect(beside, beside.dispatch, `stdio:${args.join(' ')}`);
  } catch (err) {
    throw new Error(`the gateway did not start: ${(err as Error).message}\n${stderr}`);
  }
  return { ...connected, pid: stdio.pid ?? undefined, stderr: () => stderr, close: () => closeAgent(connected) };
}

/** The agent reaching a gateway that serves Streamable HTTP (--listen); task traffic is a plain POST per request. */
export async function modernHttpAgent(url: string): Promise<ModernAgent> {
  const dispatch = async (request: JsonValue): Promise<JsonRpcResponse> => {
    const { method, params } = request as { method: string; params?: { name?: string; taskId?: string } };
    const name = params?.name ?? params?.taskId;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': REVISION, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, ...(request as object) }),
    });
    const text = await res.text();
    // A JSON body, or an SSE stream whose last data line is the response.
    const body = res.headers.get('content-type')?.startsWith('text/event-stream') ? text.split('\n').filter((l) => l.startsWith('data:')).at(-1)!.slice(5) : text;
    const m = JSON.parse(body) as { result?: JsonValue; error?: { code: number; message: string; data?: JsonValue } };
    return m.error ? { kind: 'error', error: m.error } : { kind: 'result', result: m.result ?? null };
  };
  const connected = await connect(new StreamableHTTPClientTransport(new URL(url)), dispatch, `http:${url}`);
  return { ...connected, stderr: () => '', close: () => closeAgent(connected) };
}

async function closeAgent(agent: Pick<ModernAgent, 'client' | 'tasks'>): Promise<void> {
  await agent.tasks.close().catch(() => undefined);
  await agent.client.close().catch(() => undefined);
}

/** Kills a gateway process outright (no shutdown of its own) and waits until it is gone. */
export async function killHard(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} did not exit`);
}
