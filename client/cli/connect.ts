import { Connection } from '@temporalio/client';
import { loadConfig, TemporalUnreachable, type Config } from '../../worker/config';
import type { AgentKeyStore } from '../agent-keys';
import { Countersign } from '../sdk';

/** Connects to Temporal from the environment; an unreachable server is exit 4 with the address named. */
export async function connectCli(options: { keyStore?: (home: string) => AgentKeyStore } = {}): Promise<{ cs: Countersign; config: Config; connection: Connection; close: () => Promise<void> }> {
  const config = loadConfig();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...config.connection, connectTimeout: '5s' });
  } catch (err) {
    throw new TemporalUnreachable(config.address, err);
  }
  const cs = await Countersign.connect({ connection, namespace: config.namespace, taskQueue: config.taskQueue, keyStore: options.keyStore?.(config.home) });
  return { cs, config, connection, close: () => connection.close() };
}
