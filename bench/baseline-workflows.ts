/** The cheapest durable round trips Temporal allows from this client: the benchmark's baseline. */
import { allHandlersFinished, condition, defineUpdate, setHandler } from '@temporalio/workflow';

export const pingUpdate = defineUpdate<string, [string]>('ping');

/** Started and answered at once: measures start + result. */
export async function pingWorkflow(message: string): Promise<string> {
  return message;
}

/** Answers one update at once, then ends: measures update-with-start. */
export async function pingUpdateWorkflow(): Promise<void> {
  let answered = false;
  setHandler(pingUpdate, (message) => {
    answered = true;
    return message;
  });
  await condition(() => answered);
  await condition(allHandlersFinished);
}
