// A LangChain agent whose refunds wait for countersign. Run: COUNTERSIGN_URL=… COUNTERSIGN_API_KEY=… npx tsx examples/frameworks/langchain.ts
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, tool } from 'langchain';
import { z } from 'zod';
import { Countersign } from '@countersign/agent';
import { countersignMiddleware, type CountersignInterrupt } from '@countersign/agent/langchain';

const Refund = z.object({ customer: z.string(), amount: z.number(), currency: z.enum(['USD', 'EUR', 'GBP']), order: z.string() });
const refund = tool(async (r: z.infer<typeof Refund>) => `refunded ${r.amount} ${r.currency} on ${r.order}`, { name: 'refund', description: 'Refund an order', schema: Refund });
const gate = { action: 'payments.refund', resource: (r: z.infer<typeof Refund>) => ({ type: 'customer', id: r.customer }), summary: (r: z.infer<typeof Refund>) => `Refund ${r.amount} ${r.currency} on ${r.order}` };

export async function main(cs: Countersign, model: string | BaseChatModel = 'openai:gpt-4.1', ask = 'Refund order A-2026-0042 (1200 USD) to customer C-42.') {
  const agent = createAgent({ model, tools: [refund], checkpointer: new MemorySaver(), middleware: [countersignMiddleware(cs, { interruptOn: { refund: gate } })] });
  const thread = { configurable: { thread_id: `ticket-${Date.now()}` } };
  let result = await agent.invoke({ messages: [{ role: 'user', content: ask }] }, thread);
  for (let held; (held = result.__interrupt__?.[0]?.value as CountersignInterrupt | undefined); ) {
    await cs.wait(held.countersign.workflowId, 3_600_000); // reviewers decide in countersign; the resume value decides nothing
    result = await agent.invoke(new Command({ resume: {} }), thread);
  }
  return result.messages.at(-1)?.content;
}

if (require.main === module) void Countersign.connect().then((cs) => main(cs)).then(console.log);
