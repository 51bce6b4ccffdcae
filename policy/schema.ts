import { z } from 'zod';
import { parseDuration } from '../common/duration';
import { TEMPLATE_PATTERN } from '../common/resource-template';
import { ActionName, Risk } from '../common/inputs';

const duration = z.string().refine((s) => parseDuration(s) !== undefined && parseDuration(s)! > 0, {
  message: 'must be a duration such as 90s, 30m, 4h or 1h30m',
});
const groupName = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a lower-case group name such as finance');
const decision = z.enum(['allow', 'deny', 'review']);
const actionGlob = z
  .string()
  .regex(/^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$/, 'must be a dotted action name; * matches within one segment, ** across segments')
  .refine((p) => !/\*{3,}/.test(p), 'must use * or **, not more stars');
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]);

export const WebhookConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** Name of the environment variable that holds the HMAC secret: secrets never sit in the policy. */
  secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must name an environment variable such as FINANCE_WEBHOOK_SECRET'),
});
export type WebhookConfig = z.infer<typeof WebhookConfig>;

/** What a decision under a rule must prove: `passkey` (the reviewer's own passkey or key; the default) or `chat` (a Slack click the front door attests also counts). */
export const Assurance = z.enum(['chat', 'passkey'], { error: 'must be chat or passkey' });
export type Assurance = z.infer<typeof Assurance>;

/** Where a group is asked in Slack: its channel's id (not its name, which can change). */
export const SlackGroupConfig = z.strictObject({
  channel: z.string().regex(/^[CG][A-Z0-9]{2,31}$/, 'must be a Slack channel id such as C0123ABCD (channel details → the id at the bottom)'),
});
export type SlackGroupConfig = z.infer<typeof SlackGroupConfig>;

export const GroupConfig = z.strictObject({
  description: z.string().optional(),
  members: z.array(z.string().min(1)).min(1),
  escalatesTo: groupName.optional(),
  webhook: WebhookConfig.optional(),
  slack: SlackGroupConfig.optional(),
  /** Reviewer name → Ed25519 public key (base64, from `countersign keys reviewer NAME`): their decisions must be signed. */
  reviewerKeys: z.record(z.string(), z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a base64 Ed25519 public key (44 characters)')).optional(),
});
export type GroupConfig = z.infer<typeof GroupConfig>;

export const RuleConfig = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be a lower-case id such as refund-large'),
  description: z.string().optional(),
  match: z.strictObject({
    action: oneOrMany(actionGlob),
    /** "type:id" glob on the affected resource, e.g. "customer:*". */
    resource: oneOrMany(z.string().min(1)).optional(),
    environment: oneOrMany(z.string().min(1)).optional(),
  }),
  when: z.string().min(1).optional(),
  decision,
  risk: Risk.optional(),
  reason: z.string().min(1).optional(),
  reviewers: z.union([z.literal('owner'), groupName]).optional(),
  approvals: z.number().int().min(1).max(10).optional(),
  sla: duration.optional(),
  escalate: z.strictObject({ after: duration }).optional(),
  tokenTtl: duration.optional(),
  reportWithin: duration.optional(),
  /** What a decision must prove under this rule; the policy's default (passkey) when absent. */
  assurance: Assurance.optional(),
  /** Whether a reviewer may approve this rule's requests in a batch (one signature over many); false by default for high and critical risk. */
  batch: z.boolean().optional(),
  /**
   * An allow decided at the front door (issue 29): no workflow, a token the server mints with the edge
   * key, spent in the store's ledger, sealed as its own evidence. Only on `decision: allow`.
   */
  edge: z.boolean().optional(),
}).refine((rule) => rule.edge !== true || rule.decision === 'allow', { message: 'edge: true is only for a rule whose decision is allow', path: ['edge'] });
export type RuleConfig = z.infer<typeof RuleConfig>;

/** "{argument}" placeholders, filled from the tool call's arguments (a dotted path reaches into nested ones). */
const resourceTemplate = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => TEMPLATE_PATTERN.test(s), { message: 'must be text with {argument} placeholders only, such as "fs:{path}"' });

/** How a tool call maps to the action request's resource; placeholders name the call's arguments. */
export const McpResourceMapping = z.strictObject({
  type: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'must be a lower-case word such as dataset or system'),
  id: resourceTemplate(256),
  owner: resourceTemplate(128).optional(),
  environment: resourceTemplate(64).optional(),
});
export type McpResourceMapping = z.infer<typeof McpResourceMapping>;

export const McpToolConfig = z.strictObject({
  /** SHA-256 of the tool's definition as approved (`countersign mcp-proxy --print-pins`); a different one is flagged to reviewers. */
  digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 hex digest (64 lower-case hex digits) from countersign mcp-proxy --print-pins').optional(),
  resource: McpResourceMapping.optional(),
});
export type McpToolConfig = z.infer<typeof McpToolConfig>;

export const McpServerConfig = z.strictObject({
  description: z.string().optional(),
  /** Whether CEL may believe this server's tool annotations; untrusted hints count as worst case. */
  trusted: z.boolean().default(false),
  resource: McpResourceMapping.optional(),
  /** By the tool's own name, as the server lists it. */
  tools: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be an MCP tool name (letters, digits, _ . -)'), McpToolConfig).default({}),
});
export type McpServerConfig = z.infer<typeof McpServerConfig>;

/** The MCP gateway's section: per upstream server (by its name in actions, mcp.<server>.<tool>). */
export const McpConfig = z.strictObject({
  servers: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a server name as it appears in actions (letters, digits, _ -)'), McpServerConfig).default({}),
});
export type McpConfig = z.infer<typeof McpConfig>;

/** The resource a catalogued action affects, derived from its payload: "{field}" placeholders or fixed text (the shape MCP mappings use). */
export const CatalogResource = McpResourceMapping;
export type CatalogResource = McpResourceMapping;

/** The most display fields one catalog entry declares: a reviewer reads them at a glance. */
export const MAX_DISPLAY_FIELDS = 8;

/**
 * What a reviewer sees first about a catalogued action, in every channel (queue column, request page,
 * chat message): field name → "{payload.path}" template, e.g. `amount: "{amount} {currency}"`.
 */
export const CatalogDisplay = z
  .record(
    z.string(),
    z
      .string()
      .min(1)
      .max(200)
      .refine((s) => TEMPLATE_PATTERN.test(s), { message: 'must be text with {payload field} placeholders only, such as "{amount} {currency}"' }),
  )
  .superRefine((d, ctx) => {
    const names = Object.keys(d);
    if (names.length < 1 || names.length > MAX_DISPLAY_FIELDS) ctx.addIssue({ code: 'custom', message: `must name from 1 to ${MAX_DISPLAY_FIELDS} fields` });
    for (const name of names) {
      // Checked here, not as the record's key schema: zod would report a bad key without its rule.
      if (!/^[a-z][A-Za-z0-9_]{0,31}$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'must be a field name such as amount or order_id (lower-camel or snake case, at most 32 characters)' });
    }
  });
export type CatalogDisplay = z.infer<typeof CatalogDisplay>;

/** One entry of the action catalog (DESIGN §3): what a valid payload is, what resource it affects, and what a reviewer sees first. */
export const CatalogEntry = z.strictObject({
  description: z.string().optional(),
  /** A JSON Schema (draft 2020-12) the payload must satisfy; compiled once per policy load. */
  payload: z.record(z.string(), z.unknown()).optional(),
  resource: CatalogResource.optional(),
  /** Display fields, in this order: the reviewer's at-a-glance lines, derived by countersign from the payload. */
  display: CatalogDisplay.optional(),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;

/** A credential as the directory keeps it: its SHA-256, never the credential (`countersign keys agent NAME`). */
export const KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const keyHash = z.string().regex(KEY_HASH_PATTERN, 'must be sha256: and 64 lower-case hex digits, as countersign keys agent prints');
const ed25519Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a base64 Ed25519 public key (44 characters), as countersign keys reviewer prints');
const principalName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, 'must be a name of letters, digits and . _ : @ - (at most 128)');

/**
 * Who may come through the front door (DESIGN §0, §3): agents by the hash of their API key (a
 * gateway may pass on MCP context), reviewers by their Ed25519 public key, auditors by key hash.
 */
const base64Url = (what: string, max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, `must be ${what}, base64url (as countersign reviewers confirm writes it)`);

/** A passkey a reviewer enrolled through an invite and an operator confirmed (`countersign reviewers confirm`). */
export const PasskeyConfig = z.strictObject({
  id: base64Url('the credential id', 1366),
  publicKey: base64Url('the COSE public key', 683),
  /** When the operator confirmed it; informative. */
  confirmedAt: z.string().max(64).optional(),
  /** The authenticator model's AAGUID, when it gave one; informative. */
  aaguid: z.string().max(64).optional(),
});

/** Where the web inbox is served: passkeys are scoped to rpId, and an assertion must come from one of the origins. */
export const WebAuthnConfig = z.strictObject({
  rpId: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lower-case host name such as countersign.example.com (an IP address cannot be a relying party)'),
  origins: z.array(z.string().regex(/^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?$/, 'must be an origin such as https://countersign.example.com (scheme, host, optional port; no path)')).min(1).max(16),
  /** The name authenticators show when a passkey is created. */
  rpName: z.string().min(1).max(64).default('countersign'),
});
export type WebAuthnConfig = z.infer<typeof WebAuthnConfig>;

export const DirectoryConfig = z.strictObject({
  agents: z.record(principalName, z.strictObject({ keyHash, kind: z.enum(['agent', 'gateway']).default('agent'), description: z.string().optional() })).default({}),
  reviewers: z
    .record(
      principalName,
      z
        .strictObject({ key: ed25519Key.optional(), passkeys: z.array(PasskeyConfig).max(16).optional() })
        .refine((r) => r.key !== undefined || (r.passkeys?.length ?? 0) > 0, 'must have a key (countersign keys reviewer) or a passkey (countersign reviewers invite)'),
    )
    .default({}),
  webauthn: WebAuthnConfig.optional(),
  auditors: z.record(principalName, z.strictObject({ keyHash })).default({}),
  /** The front door's start key: the worker runs only starts it signed (countersign keys server prints it). */
  server: z.strictObject({ startKey: ed25519Key }).optional(),
});
export type DirectoryConfig = z.infer<typeof DirectoryConfig>;

const environmentName = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'must be a lower-case environment name such as prod');

export const PolicyFile = z.strictObject({
  version: z.literal(1),
  defaults: z.strictObject({
    decision: decision.default('review'),
    reviewers: groupName,
    sla: duration.default('4h'),
    tokenTtl: duration.default('5m'),
    /** After consuming a token, how long the agent has to report the outcome before it is marked unknown. */
    reportWithin: duration.default('1h'),
    approvals: z.number().int().min(1).max(10).default(1),
    risk: Risk.default('medium'),
    assurance: Assurance.default('passkey'),
  }),
  groups: z.record(groupName, GroupConfig),
  owners: z.array(z.strictObject({ match: z.string().min(1), group: groupName })).default([]),
  rules: z.array(RuleConfig).default([]),
  mcp: McpConfig.optional(),
  /** Canonical environment → its other spellings; compared without regard to case. */
  environments: z.record(environmentName, z.array(environmentName).min(1)).default({}),
  /**
   * An action no catalog entry covers: `required: true` refuses it (INVALID_REQUEST); `review` sends it
   * to the default review whatever the rules allow; `false` lets the rules decide on what the agent asserts.
   */
  catalog: z
    .strictObject({ required: z.union([z.boolean(), z.literal('review')], { error: 'must be true, false or review' }).default(false) })
    .default({ required: false }),
  /** The action catalog: by exact action name or pattern. */
  actions: z.record(actionGlob, CatalogEntry).default({}),
  /** Agents, reviewers and auditors, with their credentials' hashes and public keys. */
  directory: DirectoryConfig.default({ agents: {}, reviewers: {}, auditors: {} }),
});
export type PolicyFile = z.infer<typeof PolicyFile>;

export { ActionName };
