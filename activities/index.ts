import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ReasonCode } from '../common/codes';
import type { EvidenceBody } from '../common/bundle';
import { ActionRequest, type Evaluation } from '../common/inputs';
import { type ExecutionReceipt, type Signed } from '../common/views';
import { logLeafData } from '../common/tlog/leaf';
import { mintToken, signEvidence } from '../crypto/evidence';
import { checkpointAfterSeal, type CheckpointSigner } from './checkpoints';
import { fileStore } from '../store/files';
import { EvidenceConflictError, StoreInputError, type SpendResult, type Store } from '../store/types';
import type { Signer } from '../crypto/keys';
import { ChannelConfigError, logChannel, webhookChannel, type NotificationChannel } from './notify/channels';
import { renderRequestMessage } from './notify/blocks';
import { slackChannel, type SlackChannel } from './notify/slack';
import { loadSlackSettings, SlackConfigError, type SlackSettings } from '../config/slack';
import type { GroupNotification, MessageUpdate, RequestMessage } from './notify/types';
import { verdictOf } from '../policy/verdict';
import type { CompiledPolicy } from '../policy/load';
import { mintRequest, type MintInput, type MintResult } from '../common/release';
import { startsNeedVoucher, startVoucherRefusal } from '../common/start-voucher';

export type { GroupNotification, CheckpointSigner };

export interface ActivityDeps {
  policy: CompiledPolicy;
  logger: Logger;
  /** The layer's Ed25519 key: signs approval records, receipts and evidence bundles. */
  signer: Signer;
  /** The files store's folder (COUNTERSIGN_HOME/evidence): the store when none is given. */
  evidenceDir: string;
  /** Spends, sealed evidence and the transparency log, outside workflow state (store/): files in evidenceDir by default, PostgreSQL when configured. */
  store?: Store;
  /** Signs a checkpoint of the log after each append (the transparency log's signed notes, issue 27): activities/checkpoints.ts, which every worker gives. Without it the log has leaves only. */
  checkpoints?: CheckpointSigner;
  env?: NodeJS.ProcessEnv;
  /** The Slack app (bot token, API URL): default from env (config/slack.ts); undefined turns Slack off. */
  slack?: SlackSettings;
}

export type { MintInput, MintResult };

/** What sealing returns to the workflow: where the bundle is, its digest and signature, and its leaf in the log. */
export interface SealedResult {
  /** The bundle's file, or its row (postgresql://user@host:port/db#countersign.evidence/<workflow>/<run>). */
  path: string;
  digest: string;
  signature: string;
  signer: EvidenceBody['signer'];
  logIndex: number;
  /** Why no checkpoint of the log was signed after this seal, when none was (activities/checkpoints.ts checkpointAfterSeal). */
  checkpointError?: string;
}

/**
 * Where reviewers open a request: COUNTERSIGN_PUBLIC_URL (an http(s) origin) when set, else the
 * directory's first WebAuthn origin (the inbox passkeys are bound to), else none (no url buttons).
 */
export function inboxBase(env: NodeJS.ProcessEnv, policy: Pick<CompiledPolicy, 'webauthn'>): string | undefined {
  const configured = env.COUNTERSIGN_PUBLIC_URL;
  if (configured) {
    let url: URL;
    try {
      url = new URL(configured);
    } catch {
      throw new SlackConfigError(`COUNTERSIGN_PUBLIC_URL must be an http(s) origin such as https://countersign.example.com, got "${configured.slice(0, 100)}".`);
    }
    if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash || !/^\/?$/.test(url.pathname)) {
      throw new SlackConfigError(`COUNTERSIGN_PUBLIC_URL must be an http(s) origin (no path, query or credentials) such as https://countersign.example.com, got "${configured.slice(0, 100)}".`);
    }
    return url.origin;
  }
  return policy.webauthn?.origins[0];
}

/** What the workflow knows of its request when it asks for policy's verdict and, on allow, the token in the same round. */
export interface ReleaseIfAllowed {
  workflowId: string;
  requestId: string;
  requestDigest: string;
  actionDigest: string;
  /** Workflow time when it asked: the token expires the policy's tokenTtl after it. */
  issuedAt: number;
}

export type EvaluationAndRelease = Evaluation & { minted?: MintResult };

/** What the directory registers now for one reviewer: their Ed25519 key and passkeys. */
export interface ReviewerCredentials {
  /** The reviewer's Ed25519 key now (absent when none is registered); runs before 'current-keys' never read it. */
  key?: string;
  passkeys: { credentialId: string; publicKey: string }[];
  webauthn?: { rpId: string; origins: string[] };
  directoryDigest: string;
}

/** Activities close over the worker's loaded policy and logger. */
export function createActivities(deps: ActivityDeps) {
  const { policy, logger, signer, evidenceDir, store = fileStore(evidenceDir), checkpoints, env = process.env } = deps;
  // Read once, at start: a misconfigured Slack app or public URL stops the worker with a sentence, before any request.
  const slackSettings = 'slack' in deps ? deps.slack : loadSlackSettings(env);
  const slack: SlackChannel | undefined = slackSettings ? slackChannel(slackSettings, logger) : undefined;
  inboxBase(env, policy);
  /** Groups that name a Slack channel while Slack is off: warned about once each. */
  const warnedNoSlack = new Set<string>();
  /** Every line names the workflow and request it belongs to. */
  function requestLogger(): Logger {
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    return logger.child({ workflowId, requestId: workflowId.slice(-16) });
  }

  /** The run this activity works for: what the ledger and the evidence file are keyed by. */
  function currentRunId(): string {
    const runId = Context.current().info.workflowExecution?.runId;
    if (!runId) throw ApplicationFailure.nonRetryable('The activity does not know its workflow run.', 'NO_RUN');
    return runId;
  }

  /** Authoritative validation, then policy: invalid input never reaches a reviewer. The request comes back parsed when valid. */
  function evaluate(raw: unknown, step: string): { evaluation: Evaluation; request?: ActionRequest } {
    const log = requestLogger();
    const verdict = verdictOf(policy, raw);
    if (!verdict.ok) {
      log.warn({ step, code: ReasonCode.INVALID_REQUEST, ruleIds: [] }, verdict.message);
      return { evaluation: { ok: false, code: ReasonCode.INVALID_REQUEST, message: verdict.message } };
    }
    const { request, decision } = verdict;
    log.info(
      {
        step,
        agentId: request.agentId,
        action: request.action,
        ruleIds: decision.ruleIds,
        decision: decision.decision,
        risk: decision.risk,
        group: decision.route?.group.name,
        policyDigest: decision.policyDigest,
      },
      `policy ${decision.decision}: ${decision.reason}`,
    );
    return { evaluation: { ok: true, decision }, request };
  }

  /** The plaintext exists only here, sealed to the agent's key: the workflow (and so Temporal's history) gets the hash, the sealed box and the signed record. */
  function mint(input: MintInput): MintResult {
    const { sealed, ...minted } = mintToken(signer, input);
    requestLogger().info({ ruleIds: input.record.ruleIds, tokenId: minted.grant.tokenId, expiresAt: input.expiresAt, sealed, keyId: signer.keyId }, 'token minted');
    return minted;
  }

  return {
    /** Runs started before 'one-round-allow' ask for the verdict alone (their histories replay it); newer runs use evaluateRequestAndRelease. */
    async evaluateRequest({ request }: { request: unknown }): Promise<Evaluation> {
      return evaluate(request, 'evaluate').evaluation;
    },

    /**
     * Policy's verdict and, when it allows, the token, in one local activity: an auto-allow costs the
     * workflow one round instead of two. The token is bound exactly as a separate mint binds it.
     */
    async evaluateRequestAndRelease(input: { request: unknown; release: ReleaseIfAllowed; voucher?: unknown }): Promise<EvaluationAndRelease> {
      const { request, release } = input;
      const { evaluation, request: parsed } = evaluate(request, 'evaluate');
      if (!evaluation.ok || !parsed) return evaluation;
      if ('voucher' in input && startsNeedVoucher(policy.directory)) {
        // Runs under 'vouched-start', with a directory of who may come through the front door: only a start it signed is evaluated at all.
        const refusal = startVoucherRefusal(input.voucher, { request: parsed, workflowId: release.workflowId, requestId: release.requestId, actionDigest: release.actionDigest }, policy.directory.startKey);
        if (refusal) {
          const message = `The start is refused: ${refusal}.`;
          requestLogger().warn({ step: 'evaluate', code: ReasonCode.INVALID_REQUEST, ruleIds: [] }, message);
          return { ok: false, code: ReasonCode.INVALID_REQUEST, message };
        }
      }
      if (evaluation.decision.decision !== 'allow') return evaluation;
      const { decision } = evaluation;
      const minted = mint(
        mintRequest({
          request: parsed,
          workflowId: release.workflowId,
          requestId: release.requestId,
          requestDigest: release.requestDigest,
          actionDigest: release.actionDigest,
          policy: decision,
          decidedBy: 'policy',
          decisions: [],
          expiresAt: release.issuedAt + decision.tokenTtlMs,
        }),
      );
      return { ...evaluation, minted };
    },

    /**
     * A reviewer's credentials in the directory the worker runs now (issue 12, issue 22 M2): a key or
     * passkey registered after a request was routed can decide on it, and one replaced or removed stops counting at once.
     * Group membership still comes from the request's routed snapshot.
     */
    async reviewerCredentials({ reviewer }: { reviewer: string }): Promise<ReviewerCredentials> {
      const passkeys = policy.reviewerPasskeys.get(reviewer) ?? [];
      const key = policy.reviewerKeys.get(reviewer);
      requestLogger().info({ reviewer, key: Boolean(key), passkeys: passkeys.length, directoryDigest: policy.directory.digest }, 'reviewer credentials looked up');
      return {
        ...(key ? { key } : {}),
        passkeys: passkeys.map((p) => ({ credentialId: p.credentialId, publicKey: p.publicKey })),
        ...(policy.webauthn ? { webauthn: { rpId: policy.webauthn.rpId, origins: [...policy.webauthn.origins] } } : {}),
        directoryDigest: policy.directory.digest,
      };
    },

    /** Second validation of a reviewer's edited or proposed payload. */
    async evaluateEdit({ request }: { request: unknown }): Promise<Evaluation> {
      return evaluate(request, 'revalidate').evaluation;
    },

    /**
     * Mints the single-use token. The plaintext exists only here, sealed to the agent's key: the
     * workflow (and so Temporal's history) gets the hash, the sealed box and the signed record.
     */
    async mintToken(input: MintInput): Promise<MintResult> {
      return mint(input);
    },

    /** Runs started before 'integrity-v2' sign their receipt without the ledger (workflows/legacy). */
    async signReceipt(receipt: ExecutionReceipt): Promise<Signed<ExecutionReceipt>> {
      requestLogger().info({ tokenId: receipt.tokenId, receiptId: receipt.receiptId, ruleIds: [] }, 'token consumed');
      return signer.sign('countersign/execution-receipt/v1', receipt);
    },

    /**
     * Spends a token: records the spend in the ledger (outside workflow state), then signs the
     * receipt. One activity, so consuming costs one round; refused when another run of the workflow spent it.
     */
    async spendToken(receipt: ExecutionReceipt): Promise<{ recorded: true; receipt: Signed<ExecutionReceipt> } | Extract<SpendResult, { recorded: false }>> {
      const log = requestLogger();
      const { tokenId, workflowId, requestId, actionDigest } = receipt;
      const result = await store.recordSpend({ tokenId, workflowId, requestId, actionDigest, runId: currentRunId(), spentAt: new Date().toISOString() });
      if (!result.recorded) {
        log.warn({ tokenId, spentInRun: result.runId, ruleIds: [] }, 'already spent by another run of this workflow (a reset or a new run): refused');
        return result;
      }
      log.info({ tokenId, receiptId: receipt.receiptId, ruleIds: [] }, 'token consumed; spend recorded in the ledger');
      return { recorded: true, receipt: signer.sign('countersign/execution-receipt/v1', receipt) };
    },

    /**
     * Signs the bundle and writes it into the store with its leaf in the log (store.sealEvidence: one
     * transaction on PostgreSQL). A retry is safe at every step: the same bundle again is no new
     * write, the same leaf again no new leaf.
     */
    async sealEvidence(body: Omit<EvidenceBody, 'signer'>): Promise<SealedResult> {
      const runId = currentRunId();
      const sealed = signEvidence(signer, body);
      const { workflowId, requestId } = body;
      let leafData: Uint8Array;
      try {
        // The leaf first: ids it cannot hold (common/tlog/leaf.ts) are refused before anything is written.
        leafData = logLeafData({ workflowId, runId, requestId, bundleDigest: sealed.digest });
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`The log cannot hold this bundle's leaf: ${(err as Error).message}.`, 'EVIDENCE_REFUSED');
      }
      let path: string;
      let leaf: { index: number; hash: Uint8Array };
      try {
        ({ location: path, leaf } = await store.sealEvidence({ workflowId, runId, requestId, bundleDigest: sealed.digest, text: sealed.text }, leafData));
      } catch (err) {
        if (err instanceof EvidenceConflictError) throw ApplicationFailure.nonRetryable(err.message, 'EVIDENCE_CONFLICT');
        if (err instanceof StoreInputError) throw ApplicationFailure.nonRetryable(err.message, 'EVIDENCE_REFUSED');
        throw err;
      }
      const checkpointError = checkpoints ? await checkpointAfterSeal(checkpoints, store, leaf, Context.current().info.attempt) : undefined;
      const log = requestLogger().child({ ruleIds: body.outcome.ruleIds, status: body.outcome.status, path, digest: sealed.digest, logIndex: leaf.index });
      if (checkpointError) log.error({ checkpointError }, 'evidence sealed and logged, but no checkpoint of the log was signed after it: the next seal signs one that covers it; run countersign log audit');
      else log.info('evidence sealed');
      return { path, digest: sealed.digest, signature: sealed.signature, signer: sealed.signer, logIndex: leaf.index, ...(checkpointError ? { checkpointError } : {}) };
    },

    /** Tells a group a request needs it: the log, its webhook, and its Slack channel (whose message reference comes back, `posted`). */
    async notifyGroup(notification: GroupNotification, message?: RequestMessage): Promise<{ channels: string[]; posted?: { channel: string; ts: string } }> {
      const group = policy.config.groups[notification.group];
      const log = requestLogger().child({ ruleIds: notification.ruleIds, group: notification.group, event: notification.event });
      const channels: NotificationChannel[] = [logChannel(log)];
      if (group?.webhook) channels.push(webhookChannel(group.webhook, env));
      for (const channel of channels) {
        try {
          await channel.send(notification);
        } catch (err) {
          log.warn({ channel: channel.name, err: (err as Error).message, attempt: Context.current().info.attempt }, `notification to ${notification.group} failed`);
          if (err instanceof ChannelConfigError) throw ApplicationFailure.nonRetryable(err.message, 'NOTIFICATION_CONFIG');
          throw err;
        }
      }
      const names = channels.map((c) => c.name);
      const slackId = group?.slack?.channel;
      if (!slackId || !message) return { channels: names };
      if (!slack) {
        if (!warnedNoSlack.has(notification.group)) {
          warnedNoSlack.add(notification.group);
          log.warn({ channel: 'slack', slackChannel: slackId }, `group ${notification.group} names Slack channel ${slackId}, but Slack is not configured (COUNTERSIGN_SLACK_BOT_TOKEN): its reviewers find the request in the inbox`);
        }
        return { channels: names };
      }
      // Slack last: nothing after the post can fail, so a retry never posts a second message.
      const posted = await slack.post(slackId, renderRequestMessage(message, { live: true, inboxBase: inboxBase(env, policy) }));
      log.info({ channel: 'slack', slackChannel: posted.channel, messageTs: posted.ts }, `posted to Slack for ${notification.group}`);
      return { channels: [...names, 'slack'], posted };
    },

    /** Re-renders a request's chat messages after a transition, each with its own `live` (buttons only while its group may decide). */
    async updateGroupMessages(update: MessageUpdate): Promise<void> {
      if (!update.refs.length) return;
      const log = requestLogger().child({ ruleIds: update.message.ruleIds, status: update.message.status });
      if (!slack) {
        log.warn({ channel: 'slack', groups: update.refs.map((r) => r.group) }, 'chat messages not updated: Slack is not configured');
        return;
      }
      const base = inboxBase(env, policy);
      // Every message gets its update even when another's fails; then the failure to retry (the longest wait Slack asked for) comes first.
      const failures: ApplicationFailure[] = [];
      for (const ref of update.refs) {
        try {
          await slack.update(ref, renderRequestMessage(update.message, { live: ref.live, inboxBase: base }));
          log.info({ channel: 'slack', group: ref.group, slackChannel: ref.channel, messageTs: ref.ts, live: ref.live }, `Slack message for ${ref.group} updated`);
        } catch (err) {
          const failure = err instanceof ApplicationFailure ? err : ApplicationFailure.retryable(`Slack update for ${ref.group} failed: ${(err as Error).message}`, 'SLACK_ERROR');
          log.warn({ channel: 'slack', group: ref.group, slackChannel: ref.channel, messageTs: ref.ts, type: failure.type, attempt: Context.current().info.attempt }, failure.message);
          failures.push(failure);
        }
      }
      const retryable = failures.filter((f) => !f.nonRetryable).sort((a, b) => delaySeconds(b) - delaySeconds(a));
      if (failures.length) throw retryable[0] ?? failures[0]!;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/** The wait a failure asks Temporal for ("7s"), in seconds; 0 when none. */
const delaySeconds = (f: ApplicationFailure) => Number(/^(\d+)s$/.exec(String(f.nextRetryDelay ?? ''))?.[1] ?? 0);

