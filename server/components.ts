/**
 * The named schemas of the HTTP API: request bodies as their senders write them and answers as the
 * server writes them (server/openapi.ts turns them into the document's components; server/operations.ts
 * names them route by route).
 */
import { z } from 'zod';
import {
  BatchBody,
  BatchStatementBody,
  ChallengeBody,
  ConsumeBody,
  DecisionBody,
  EnrollBody,
  EnrollOptionsBody,
  LoginBody,
  PasskeyLoginBody,
  PasskeyLoginOptionsBody,
  ReportBody,
  SubmitBody,
  ValidateBody,
} from '../common/api';
import { PolicyDecision, SealedToken } from '../common/inputs';
import * as insights from '../common/insights/report';
import * as answers from '../common/responses';
import { LinkBody } from './routes/slack';

/**
 * A decision as a reviewer sends it: `reviewer` may be left out (the server names the session's own,
 * and refuses another), `versionDigest` may not; signed for /decisions, unsigned for /statement.
 */
const decisionSent = (signed: boolean) => {
  const branches = (DecisionBody.unwrap().options as readonly z.ZodObject[]).map((b) => {
    const named = b.partial({ reviewer: true }).required({ versionDigest: true });
    return signed ? named.required({ signature: true }) : named.omit({ signature: true });
  });
  return z.discriminatedUnion('decision', branches as [z.ZodObject, ...z.ZodObject[]]);
};

/** Request bodies, as their senders write them. */
export const BODIES = {
  SubmitBody,
  ConsumeBody,
  ReportBody,
  DecisionBody: decisionSent(true),
  StatementBody: decisionSent(false),
  ValidateBody,
  BatchBody,
  BatchStatementBody,
  ChallengeBody,
  LoginBody,
  EnrollOptionsBody,
  EnrollBody,
  PasskeyLoginOptionsBody,
  PasskeyLoginBody,
  SlackLinkBody: LinkBody,
  SlackInteractionForm: z.object({ payload: z.string().describe('The interaction as JSON (block_actions or view_submission)') }),
  SlackCommandForm: z.record(z.string(), z.string()).describe('Slack\'s slash-command fields: command, text, team_id, user_id, channel_id, …'),
};

/** Answers, as the server writes them; each a component, referenced where it recurs. */
export const ANSWERS = {
  Problem: answers.Problem,
  Timestamp: answers.Timestamp,
  SubmitState: answers.SubmitState,
  ApprovalOutcome: answers.ApprovalOutcome,
  TokenGrant: answers.TokenGrant,
  SealedToken,
  ExecutionResult: answers.ExecutionResult,
  RequestList: answers.RequestList,
  RequestRow: answers.RequestRow,
  SignedExecutionReceipt: answers.SignedExecutionReceipt,
  ExecutionReceipt: answers.ExecutionReceipt,
  EvidenceView: answers.EvidenceView,
  EvidenceEvent: answers.EvidenceEvent,
  SignedApprovalRecord: answers.SignedApprovalRecord,
  ApprovalRecord: answers.ApprovalRecord,
  TokenBinding: answers.TokenBinding,
  ReviewQueue: answers.ReviewQueue,
  ReviewView: answers.ReviewView,
  PolicyDecision,
  DecisionReceipt: answers.DecisionReceipt,
  StatementToSign: answers.StatementToSign,
  DecisionStatement: answers.DecisionStatement,
  BatchToSign: answers.BatchToSign,
  BatchStatement: answers.BatchStatement,
  BatchItem: answers.BatchItem,
  BatchAnswer: answers.BatchAnswer,
  BatchResult: answers.BatchResult,
  Whoami: answers.Whoami,
  Ok: answers.Ok,
  LoginChallenge: answers.LoginChallenge,
  ReviewerSession: answers.ReviewerSession,
  WebAuthnCeremony: answers.WebAuthnCeremony,
  Enrolment: answers.Enrolment,
  InboxSession: answers.InboxSession,
  SlackLinkOffer: answers.SlackLinkOffer,
  SlackLinked: answers.SlackLinked,
  BundleLogProof: answers.BundleLogProof,
  LogLeaves: answers.LogLeaves,
  LogBundles: answers.LogBundles,
  InclusionProof: answers.InclusionProof,
  ConsistencyProof: answers.ConsistencyProof,
  ...{ InsightsReport: insights.InsightsReport, RecordedRequests: insights.RecordedRequests },
  SlackReply: answers.SlackReply,
  OpenApiDocument: answers.OpenApiDocument,
};

export type Component = keyof typeof BODIES | keyof typeof ANSWERS;
