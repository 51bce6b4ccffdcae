/**
 * The Slack phase of `npm run bench`: against the local Slack stand-in (test/support/slack.ts, the
 * real @slack/web-api WebClient on the worker's side), how long from an agent's submit to the review
 * message posted in the group's channel, and from a reviewer's click on Approve (a block_actions
 * request signed as Slack signs it) to the agent holding its token. Its own task queue, worker and
 * server, so the other phases are untouched.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { Countersign } from '../client/sdk';
import { createLogger } from '../config/logger';
import { loadSlackSettings } from '../config/slack';
import { createKeyFile, loadKeyFile } from '../crypto/keys';
import { compilePolicy } from '../policy/load';
import { withDevCredentials } from '../cli/dev-credentials';
import { Approvals } from '../server/approvals';
import { startServer } from '../server/main';
import { memoryLinks } from '../server/slack/links';
import { bundleApprovalWorkflows } from '../worker/bundle';
import { createApprovalWorker } from '../worker/worker';
import { blockActions, interactionBody, signedHeaders, SLACK_TEAM, startSlackStandIn, type SlackCall } from '../test/support/slack';
import { summarize, type Summary } from './stats';

const CHANNEL = 'C0BENCH01';
const POLICY = `
version: 1
defaults: { decision: review, reviewers: finance, sla: 4h, tokenTtl: 30m, assurance: chat }
groups:
  finance: { members: [dave], slack: { channel: ${CHANNEL} } }
`;

const quiet = () => createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, done) => done() }) });

/** The approve button's value on the message posted for `requestId`, once it is there. */
function approveValue(calls: SlackCall[], requestId: string): { value: string; ts: string } | undefined {
  for (const call of calls) {
    if (call.method !== 'chat.postMessage' || !JSON.stringify(call.args.blocks ?? '').includes(requestId)) continue;
    for (const block of (call.args.blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]) ?? []) {
      const button = block.elements?.find((e) => e.action_id === 'cs_approve');
      if (button?.value) return { value: button.value, ts: String(call.reply?.ts ?? '') };
    }
  }
  return undefined;
}

export async function benchSlack(env: TestWorkflowEnvironment, home: string, n: number): Promise<{ submitToPosted: Summary; clickToToken: Summary }> {
  const slack = await startSlackStandIn();
  const runHome = join(home, randomUUID());
  const creds = withDevCredentials(POLICY, runHome, { agents: ['bench-agent'] });
  const policy = compilePolicy(creds.policyText, 'bench-slack-policy.yaml');
  const taskQueue = `bench-slack-${randomUUID()}`;
  const worker = await createApprovalWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    policy,
    logger: quiet(),
    signer: createKeyFile(join(runHome, 'keys', 'layer.key')),
    evidenceDir: join(runHome, 'evidence'),
    workflowBundle: await bundleApprovalWorkflows(new DefaultLogger('ERROR')),
    env: { ...process.env, ...slack.env },
  });
  const running = worker.run();
  const backend = await Approvals.connect({ connection: env.connection, taskQueue, startSigner: loadKeyFile(creds.startKeyPath) });
  const links = memoryLinks();
  const reviewer = { id: 'U0BENCHDAVE', name: 'dave' };
  await links.link(SLACK_TEAM, reviewer.id, 'dave');
  const server = await startServer({ backend, policy, logger: quiet(), sessionSecret: randomBytes(32), listen: '127.0.0.1:0', slack: loadSlackSettings(slack.env), slackLinks: links, rateLimit: { perSecond: 1000, burst: 2000 } });
  try {
    const cs = await Countersign.connect({ url: server.url, apiKey: creds.agentKeys.get('bench-agent')! });
    const posted: number[] = [];
    const clicked: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const pending = await cs.submit({ taskId: `t-${randomUUID()}`, action: 'payments.refund', summary: 'Benchmark refund', resource: { type: 'customer', id: 'C-1' }, payload: { amount: 500 } }, { waitMs: 0 });
      let button: { value: string; ts: string } | undefined;
      while (!(button = approveValue(slack.calls, pending.requestId))) await new Promise((resolve) => setTimeout(resolve, 2));
      posted.push(performance.now() - t0);
      const body = interactionBody(blockActions({ user: reviewer, channel: CHANNEL, messageTs: button.ts, actionId: 'cs_approve', value: button.value }));
      const waiting = pending.wait(60_000);
      const t1 = performance.now();
      const answer = await fetch(`${server.url}/v1/slack/interactions`, { method: 'POST', headers: signedHeaders(body), body });
      if (answer.status !== 200) throw new Error(`the click was answered ${answer.status}`);
      await waiting;
      if (pending.status !== 'approved' || !pending.openToken()) throw new Error(`click to token ended ${pending.status}`);
      clicked.push(performance.now() - t1);
    }
    return { submitToPosted: summarize(posted), clickToToken: summarize(clicked) };
  } finally {
    await server.close();
    await backend.close();
    worker.shutdown();
    await running;
    await slack.close();
  }
}
