import type { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { temporal } from '@temporalio/proto';
import { ALL_SEARCH_ATTRIBUTES } from '../common/search-attributes';

export interface SetupReport {
  namespace: string;
  created: string[];
  present: string[];
}

export class SearchAttributeConflict extends Error {
  override name = 'SearchAttributeConflict';
}

const typeName = (t: temporal.api.enums.v1.IndexedValueType | null | undefined) => temporal.api.enums.v1.IndexedValueType[t ?? 0] ?? String(t);

/** Registers the countersign search attributes through the operator service; running it twice is fine. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<SetupReport> {
  const existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  const missing: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  const present: string[] = [];
  for (const key of ALL_SEARCH_ATTRIBUTES) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type)!;
    const have = existing[key.name];
    if (have === undefined) missing[key.name] = wanted;
    else if (have !== wanted) throw new SearchAttributeConflict(`Search attribute ${key.name} exists as ${typeName(have)}, but countersign needs ${typeName(wanted)}.`);
    else present.push(key.name);
  }
  if (Object.keys(missing).length) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  return { namespace, created: Object.keys(missing), present };
}

export interface ClusterStatus {
  address: string;
  reachable: boolean;
  namespace: string;
  namespaceExists: boolean;
  searchAttributes: { present: string[]; missing: string[] };
  taskQueue: string;
  workerPolling: boolean;
  pollers: string[];
  error?: string;
}

/** What an operator needs to know before trusting the stack: server, namespace, attributes, a polling worker. */
export async function clusterStatus(connection: Connection, address: string, namespace: string, taskQueue: string): Promise<ClusterStatus> {
  const status: ClusterStatus = {
    address,
    reachable: true,
    namespace,
    namespaceExists: false,
    searchAttributes: { present: [], missing: ALL_SEARCH_ATTRIBUTES.map((k) => k.name) },
    taskQueue,
    workerPolling: false,
    pollers: [],
  };
  try {
    await connection.workflowService.describeNamespace({ namespace });
    status.namespaceExists = true;
  } catch (err) {
    status.error = `namespace ${namespace}: ${(err as Error).message}`;
    return status;
  }
  const existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  status.searchAttributes.present = ALL_SEARCH_ATTRIBUTES.filter((k) => existing[k.name] !== undefined).map((k) => k.name);
  status.searchAttributes.missing = ALL_SEARCH_ATTRIBUTES.filter((k) => existing[k.name] === undefined).map((k) => k.name);
  const queue = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  status.pollers = (queue.pollers ?? []).map((p) => p.identity ?? 'unknown');
  status.workerPolling = status.pollers.length > 0;
  return status;
}
