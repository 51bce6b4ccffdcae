/** `npm run cluster`: the production-shaped stack in the foreground (scripts/cluster-stack.ts); Ctrl-C stops it. */
import { CLUSTER_PORTS, HISTORY_SHARDS, startClusterStack } from './cluster-stack';

async function main(): Promise<void> {
  const stack = await startClusterStack();
  const p = CLUSTER_PORTS;
  process.stdout.write(`
countersign on a Temporal cluster is up (data, configuration and logs in ${stack.dir})
  PostgreSQL         127.0.0.1:${p.postgres} (databases temporal, temporal_visibility, and countersign: spends, evidence, the log)
  Temporal frontend  ${stack.temporalAddress} (HTTP ${p.frontend.http})
  Temporal history   127.0.0.1:${p.history[0].grpc} and 127.0.0.1:${p.history[1].grpc} (${HISTORY_SHARDS} shards between them)
  Temporal matching  127.0.0.1:${p.matching.grpc}; worker service 127.0.0.1:${p.worker.grpc}
  countersign server ${stack.url}; two countersign workers (task queue countersign)
  Policy             ${stack.policyFile} (examples/policy.yaml with the cluster's dev credentials)

In another terminal:
  export COUNTERSIGN_HOME=${stack.home} COUNTERSIGN_URL=${stack.url}
  npx countersign submit --file examples/actions/refund-large.json
  npx countersign review list --as dave
Ctrl-C stops everything; the data stays for the next run.
`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stdout.write('Stopping the countersign processes, Temporal and PostgreSQL...\n');
  await stack.stop();
  process.stdout.write('Stopped.\n');
}

main().catch((err) => {
  process.stderr.write(`npm run cluster: ${(err as Error).message}\n`);
  process.exit(1);
});
