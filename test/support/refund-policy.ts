/**
 * The refund policy the agent-framework adapters are tested and benchmarked against, and the OpenAPI
 * document's real calls are made under (test/openapi.test.ts): small refunds allowed, larger ones
 * reviewed by finance (dave, erin), huge ones denied; the refund catalogued, so an edit is checked
 * against its payload schema.
 */
export const REFUND_POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: refund-small
    match: { action: payments.refund }
    when: "payload.amount <= 100"
    decision: allow
  - id: refund-review
    match: { action: payments.refund }
    when: "payload.amount > 100"
    decision: review
    reviewers: finance
  - id: refund-huge
    match: { action: payments.refund }
    when: "payload.amount > 10000"
    decision: deny
    reason: Refunds over 10,000 are never automated.
catalog: { required: true }
actions:
  payments.refund:
    payload:
      type: object
      required: [customer, amount, currency, order]
      additionalProperties: false
      properties:
        customer: { type: string, pattern: "^C-[0-9]+$" }
        amount: { type: number, exclusiveMinimum: 0, maximum: 1000000 }
        currency: { enum: [USD, EUR, GBP] }
        order: { type: string, minLength: 1, maxLength: 64 }
    resource: { type: customer, id: "{customer}" }
`;

/** Every refund reviewed by two of finance (dave, erin): what the reset attacks run under (test/reset.test.ts, test/store.cluster.ts). */
export const FINANCE_TWICE_POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 1h, tokenTtl: 5m, reportWithin: 5s }
groups:
  finance: { members: [dave, erin] }
rules:
  - id: refund
    match: { action: payments.refund }
    decision: review
    reviewers: finance
    approvals: 2
    reason: Refunds need finance twice.
`;
