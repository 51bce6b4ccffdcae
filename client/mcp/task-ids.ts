import { hkdfSync } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** How long a task id is honoured: longer than any review and token lifetime a policy sets. */
export const TASK_ID_TTL_MS = 30 * 24 * 3_600_000;
/** Longer ids are not even looked at. */
const MAX_TASK_ID_CHARS = 1024;

/** What a task id carries: the countersign request it follows, whose it is, since when, and the tool called (for messages). */
const TaskIdBody = z.strictObject({
  a: z.string().min(1).max(128),
  r: z.string().regex(/^[0-9a-f]{16}$/),
  c: z.number().int().nonnegative(),
  t: z.string().max(128),
});

export interface TaskRef {
  requestId: string;
  /** cs-<agent>-<request id>: this gateway's own request, by construction. */
  workflowId: string;
  createdAt: number;
  tool: string;
}

/**
 * Task ids as opaque, authenticated handles: the SDK's HMAC-SHA256 state codec (the one it offers for
 * requestState) under a key derived from the gateway's secret for this gateway credential and upstream.
 * An id made by another gateway credential, altered by one byte, or past its lifetime is simply not a
 * task here.
 * Signed, not encrypted: the client can read the request id and tool name, which it already knows.
 */
export class TaskIds {
  private readonly codec: RequestStateCodec<z.infer<typeof TaskIdBody>>;

  constructor(
    secret: Uint8Array,
    private readonly agentId: string,
    /** The upstream's name: another upstream's gateway, even with this credential, reads none of these ids. */
    server: string,
  ) {
    const key = new Uint8Array(hkdfSync('sha256', secret, 'countersign/mcp-task-id/v1', `${agentId}\n${server}`, 32));
    this.codec = createRequestStateCodec({ key, ttlSeconds: TASK_ID_TTL_MS / 1000 });
  }

  mint(ref: Omit<TaskRef, 'workflowId'>): Promise<string> {
    return this.codec.mint({ a: this.agentId, r: ref.requestId, c: ref.createdAt, t: ref.tool.slice(0, 128) });
  }

  /** The task an id names, or undefined for anything this gateway did not hand out (or no longer honours). */
  async open(taskId: string): Promise<TaskRef | undefined> {
    if (taskId.length > MAX_TASK_ID_CHARS) return undefined;
    // The MAC is checked on its decoded bytes: a second spelling of them (base64url's spare low bits) is an altered id too.
    const mac = taskId.slice(taskId.lastIndexOf('.') + 1);
    if (Buffer.from(mac, 'base64url').toString('base64url') !== mac) return undefined;
    let body: unknown;
    try {
      body = await this.codec.verify(taskId, undefined as unknown as ServerContext); // no bind: the key is this credential's
    } catch {
      return undefined;
    }
    const parsed = TaskIdBody.safeParse(body);
    if (!parsed.success || parsed.data.a !== this.agentId) return undefined;
    return { requestId: parsed.data.r, workflowId: `cs-${this.agentId}-${parsed.data.r}`, createdAt: parsed.data.c, tool: parsed.data.t };
  }
}
