/**
 * An agent as its own process, with nothing but COUNTERSIGN_URL and COUNTERSIGN_API_KEY: prints
 * what it saw as JSON. Run by test/server.test.ts with an environment holding no TEMPORAL_* variable.
 */
import { randomUUID } from 'node:crypto';
import { Countersign } from '../../client/sdk';

async function main() {
  const temporalVars = Object.keys(process.env).filter((k) => k.startsWith('TEMPORAL_'));
  const cs = await Countersign.connect();
  let ran = false;
  const result = await cs.guard(
    {
      taskId: `agent-process-${randomUUID()}`,
      action: 'payments.refund',
      summary: 'Refund a duplicate charge of 20 USD.',
      resource: { type: 'customer', id: 'C-7' },
      payload: { amount: 20, currency: 'USD' },
    },
    async () => {
      ran = true;
      return 'done';
    },
    { waitMs: 20_000 },
  );
  const requests = await cs.list();
  const outcome = await cs.outcome(requests[0]!.workflowId);
  process.stdout.write(JSON.stringify({ temporalVars, agentId: cs.agentId, executed: result.executed && ran, status: result.status, outcome: outcome.status }));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
