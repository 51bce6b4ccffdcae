/**
 * Every patch id the approval workflow asks `patched()` about, in one place. A patch id is recorded
 * in the history of every run started after it shipped: its string never changes.
 *
 * Retiring a patch takes two releases. First `deprecatePatch(id)` replaces `patched(id)` and the
 * old branch is deleted, once no run that started before the patch shipped can still be open; then,
 * once no run that recorded the marker is open either, the deprecatePatch call goes too.
 *
 * How long a run can be open: a review waits at most its route's SLA (an edit never moves the
 * deadline later; escalation does not move it), an approved token waits at most its tokenTtl, a
 * consumed token waits at most reportWithin for the outcome report, then the evidence is sealed
 * (an activity retried without limit: it ends when the evidence store answers). So a run lives at
 * most SLA + tokenTtl + reportWithin, the longest of each that the policy in force can give (the
 * defaults: 4h + 5m + 1h), plus the seal. "Drained" below means: `temporal workflow list --query
 * "WorkflowType='approvalWorkflow' AND ExecutionStatus='Running' AND StartTime < '<release time>'"`
 * finds nothing (at the earliest that bound after the release; a run still open is terminated or waited for).
 * Replay fixtures recorded before a patch (test/histories/v1, v2, v3) go with its old branch.
 */

/**
 * Guards the review rules as a pure state machine (workflows/review.ts), version-bound signed
 * decisions, recomputed ids, the spend ledger and one evidence seal per run (a10935d). Runs that
 * started before it finish on the frozen workflows/legacy/approval-v1.ts.
 * Deprecate once the runs started before a10935d have drained; then delete approval-v1.ts and the
 * v1 replay fixtures.
 */
export const INTEGRITY_PATCH = 'integrity-v2';

/**
 * Guards refusing any decision not signed by a key the directory registers (review.ts
 * `signaturesRequired`), shipped with the front door (a89f226). Runs started before it let a
 * reviewer without a key decide unsigned.
 * Deprecate once the runs started before a89f226 have drained (then signaturesRequired is always true).
 */
export const SIGNED_DECISIONS_PATCH = 'signed-decisions';

/**
 * Guards looking up a reviewer's passkeys in the directory as it is at decision time (the
 * reviewerCredentials local activity) for a passkey decision (caed2de). Superseded for runs that
 * also took CURRENT_KEYS_PATCH, which look up every signed decision.
 * Deprecate once the runs started before caed2de have drained.
 */
export const CURRENT_CREDENTIALS_PATCH = 'current-credentials';

/**
 * Guards checking every signed decision (Ed25519 key or passkey) against the directory as it is at
 * decision time, for runs whose review opens after it (review.ts `currentKeys`, e98b8b8): a
 * replaced or removed key stops deciding at once.
 * Deprecate once the runs started before e98b8b8 have drained; CURRENT_CREDENTIALS_PATCH can go
 * in the same release.
 */
export const CURRENT_KEYS_PATCH = 'current-keys';

/**
 * Guards asking policy and, when it allows, minting the token in one local activity
 * (evaluateRequestAndRelease, e56a572): an auto-allow is one round of the workflow instead of two.
 * Its evidence is the same. Runs started before it ask evaluateRequest, then mintToken.
 * Deprecate once the runs started before e56a572 have drained; then the v3 fixtures go.
 */
export const ONE_ROUND_ALLOW_PATCH = 'one-round-allow';

/**
 * Guards capping the agent's waits and joins (awaitDecision Updates) at MAX_AGENT_WAITS, refused in
 * the validator so they never reach history and cannot spend Temporal's per-workflow Update limit
 * that reviewers' decisions and consumes need (cb3eb1b, issue 22 L9).
 * Deprecate once the runs started before cb3eb1b have drained.
 */
export const AGENT_WAIT_BUDGET_PATCH = 'agent-wait-budget';

/**
 * Guards evaluating a start only with the front door's voucher for it (f7a81c4, issue 22 M3): a raw
 * Temporal start of an agent's request, with a delivery key of the starter's choosing, is refused
 * before anything is minted. Only asked under ONE_ROUND_ALLOW_PATCH.
 * Deprecate once the runs started before f7a81c4 have drained.
 */
export const VOUCHED_START_PATCH = 'vouched-start';

/**
 * Guards updating a request's chat messages in place (issue 24, Slack): once a group's message is
 * posted, every later transition (an approval, an escalation, the decision, the execution) re-renders
 * it through the updateGroupMessages activity. Asked only by runs that posted a message, so runs
 * from before never meet it. Deprecate once the runs started before it have drained.
 */
export const CHAT_MESSAGES_PATCH = 'chat-messages';

/**
 * Guards publishing what the inbox queue shows of an open review in the run's memo (issue 24 point 6,
 * publish.ts `publishQueueMemo`): the catalog's display fields and the approvals so far and needed,
 * upserted only when they change. Runs started before it never upsert their memo: their queue rows
 * show no display fields or approvals column. Asked only once a run has a review.
 * Deprecate once the runs started before it have drained.
 */
export const QUEUE_MEMO_PATCH = 'queue-memo';

/**
 * Guards batch approvals (issue 28: one signature over a Merkle root of many requests, each run
 * checking its own leaf, common/batch.ts), asked when a run's review opens (review.ts
 * `batchDecisions`). Runs whose review opened before it refuse a batch approval: approve them one by one.
 * Deprecate once the runs started before it have drained.
 */
export const BATCH_DECISIONS_PATCH = 'batch-decisions';
