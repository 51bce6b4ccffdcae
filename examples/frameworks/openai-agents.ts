// OpenAI Agents JS with countersign: a refund tool that runs only on countersign's decision.
// Run: COUNTERSIGN_URL=… COUNTERSIGN_API_KEY=… OPENAI_API_KEY=… npx tsx examples/frameworks/openai-agents.ts
import { Agent, run } from '@openai/agents';
import { z } from 'zod';
import { Countersign } from '@countersign/agent';
import { countersignTool, fileKeyStore, fileRunStateStore, persistInterrupted, resumeWhenDecided } from '@countersign/agent/openai-agents';

async function main() {
  const cs = await Countersign.connect({ keyStore: fileKeyStore('.countersign/agent-keys') });
  const store = fileRunStateStore('.countersign/runs'); // interrupted runs, by request id
  const refund = countersignTool(cs, {
    name: 'refund', description: 'Refund an order.',
    parameters: z.object({ order: z.string(), amount: z.number(), currency: z.string() }),
    execute: async ({ order, amount, currency }) => `refunded ${amount} ${currency} on ${order}`, // your payment call
  }, { action: 'payments.refund', resource: (r) => ({ type: 'order', id: r.order }), summary: (r) => `Refund ${r.amount} ${r.currency} on ${r.order}` }, { taskId: 'ticket-4521' });
  const agent = new Agent({ name: 'refunds', instructions: 'Refund what support asks for.', tools: [refund] });

  const result = await run(agent, 'Order O-1234 was charged twice: refund 450 USD.');
  const held = await persistInterrupted(store, result); // reviewed calls interrupt the run
  if (!held.length) console.log(result.finalOutput);
  for (const requestId of held) {
    const resumed = await resumeWhenDecided(cs, store, requestId, agent, { waitMs: 15 * 60_000 }); // or from your webhook
    if (resumed.kind === 'resumed') console.log(resumed.result.finalOutput);
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
