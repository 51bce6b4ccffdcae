// A refund agent on the Vercel AI SDK, gated by countersign: see docs/frameworks/ai-sdk.md.
import { generateText, isStepCount, tool, type ModelMessage } from 'ai';
import { z } from 'zod';
import { Countersign } from '@countersign/agent';
import { countersignApprovalResponses, fileKeyStore, withCountersign } from '@countersign/agent/ai-sdk';
import { issueRefund } from './ai-sdk-payments';

const refund = tool({
  inputSchema: z.object({ customer: z.string(), order: z.string(), amount: z.number(), currency: z.enum(['USD', 'EUR', 'GBP']) }),
  execute: (r) => issueRefund(r), // runs only once countersign's token is consumed for exactly these arguments
});

async function main(): Promise<void> {
  const cs = await Countersign.connect({ keyStore: fileKeyStore('.countersign/agent-keys') }); // COUNTERSIGN_URL, COUNTERSIGN_API_KEY
  const gated = withCountersign(cs, { refund }, { taskId: 'ticket-4711', waitMs: 5_000, actions: {
    refund: { action: 'payments.refund', resource: (r) => ({ type: 'customer', id: r.customer }), summary: (r) => `Refund ${r.amount} ${r.currency}, order ${r.order}` },
  } });
  const messages: ModelMessage[] = [{ role: 'user', content: 'C-42 was charged twice for order 1234: refund $450.' }];
  let result = await generateText({ model: 'openai/gpt-5', ...gated, messages, stopWhen: isStepCount(5) });
  // Under review, the SDK emitted a tool-approval-request: resume once a reviewer decided in countersign.
  const { responses } = await countersignApprovalResponses(cs, result.content, 60 * 60_000);
  if (responses.length > 0) {
    messages.push(...result.responseMessages, { role: 'tool', content: responses });
    result = await generateText({ model: 'openai/gpt-5', ...gated, messages, stopWhen: isStepCount(5) });
  }
  console.log(result.text);
}

void main();
