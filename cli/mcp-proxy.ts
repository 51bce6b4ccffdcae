import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ExitCode } from '../common/codes';
import { loadPolicyFile } from '../policy/load';
import { mcpServerConfig } from '../policy/mcp';
import type { McpConfig } from '../policy/schema';
import { loadConfig } from '../config/env';
import { packageVersion } from '../client/version';
import { derivedKeyStore, fileKeyStore } from '../client/agent-keys';
import { connectAgent } from './connect';
import { CliError } from './errors';
import { out } from './io';
import { listAllTools, McpGateway } from '../client/mcp/gateway';
import type { UpstreamTarget } from '../client/mcp/names';
import { serveHttp, serveStdio, type Serving } from '../client/mcp/serve';
import { pinsYaml } from '../client/mcp/pins';
import { connectUpstream } from '../client/mcp/upstream';
import { agentKeysDir, gatewaySecretPath } from '../config/home';
import { privateSecret } from '../config/private-files';

export interface ProxyOptions {
  target: UpstreamTarget;
  server: string;
  /** Must be the gateway credential's own name when given; by default it is. */
  agentId?: string;
  taskId?: string;
  onBehalfOf?: string;
  holdMs: number;
  policyFile?: string;
  listen?: { host: string; port: number };
  printPins: boolean;
}

/** `countersign mcp-proxy`: connect the upstream, then serve the agent until it goes away. */
export async function runMcpProxy(o: ProxyOptions): Promise<number> {
  // stdout belongs to the MCP protocol in stdio mode: anything else would corrupt it.
  if (!o.listen && !o.printPins) for (const method of ['log', 'info', 'debug'] as const) console[method] = console.error;
  const config = loadConfig();
  const logger = stderrLogger(config.logFormat, config.logLevel).child({ component: 'mcp-proxy', server: o.server });
  const mcp: McpConfig | undefined = o.policyFile ? loadPolicyFile(o.policyFile).config.mcp : undefined;
  if (o.policyFile && !mcpServerConfig(mcp, o.server)) logger.warn(`the policy has no mcp.servers.${o.server} entry: its tools count as untrusted`);

  let upstream;
  try {
    upstream = await connectUpstream(o.target, packageVersion());
  } catch (err) {
    const what = 'url' in o.target ? o.target.url : [o.target.command, ...o.target.args].join(' ');
    throw new CliError(`Cannot start the upstream MCP server (${what}): ${(err as Error).message}`, ExitCode.refused);
  }
  try {
    if (o.printPins) {
      out(await pinsYaml(await listAllTools(upstream), o.server));
      return ExitCode.ok;
    }
    // Per-request keys derived from the gateway's secret, so a restarted gateway still opens the tokens
    // it was granted (keys an earlier version kept in agent-keys/ are still read).
    const { cs, home, close } = await connectAgent({ agent: o.agentId, keyStore: (home: string) => derivedKeyStore(privateSecret(gatewaySecretPath(home)), fileKeyStore(agentKeysDir(home))) });
    try {
      // MCP context (tool hints, digests) is believed only from a gateway credential: refuse to run on another.
      if (cs.role !== 'gateway') throw new CliError(`The API key is ${cs.role} ${cs.agentId}'s; mcp-proxy needs a gateway key (countersign keys agent NAME --gateway).`, ExitCode.usage);
      const agentId = cs.agentId;
      const taskId = o.taskId ?? `mcp-${agentId}-${sessionStamp()}`.slice(0, 128);
      // The same secret makes the MCP task ids: a restarted gateway answers tasks/get for the ones it handed out.
      const secret = privateSecret(gatewaySecretPath(home));
      const gateway = new McpGateway({ cs, upstream, server: o.server, agentId, taskId, onBehalfOf: o.onBehalfOf, holdMs: o.holdMs, mcp, logger, version: packageVersion(), secret });
      await gateway.refreshTools();
      upstream.setNotificationHandler('notifications/tools/list_changed', () => gateway.toolsChanged().catch((err) => logger.warn({ err }, 'could not refresh the tools after a change')));
      let serving: Serving;
      if (o.listen) {
        const http = await serveHttp(gateway, o.listen, logger);
        logger.info({ url: http.url, agentId, taskId }, `MCP gateway listening on ${http.url}`);
        serving = http;
      } else {
        serving = await serveStdio(gateway, logger);
        logger.info({ agentId, taskId, holdMs: o.holdMs }, 'MCP gateway serving on stdio');
      }
      const stop = () => void serving.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await serving.closed;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info('MCP gateway stopped');
    } finally {
      await close();
    }
    return ExitCode.ok;
  } finally {
    await upstream.close().catch(() => undefined);
  }
}

/** pino on fd 2: logs never touch the protocol on stdout. */
function stderrLogger(format: 'json' | 'pretty', level: string): Logger {
  const base = { level, base: { service: 'countersign' } };
  if (format === 'pretty') return pino(base, pretty({ sync: true, singleLine: true, colorize: Boolean(process.stderr.isTTY), ignore: 'pid,hostname,service', destination: 2 }));
  return pino(base, pino.destination({ dest: 2, sync: true }));
}

/** Readable and unique per process start: 20260901T101500-3fa2. */
function sessionStamp(): string {
  return `${new Date().toISOString().replace(/[-:]|\.\d+Z$/g, '')}-${randomBytes(2).toString('hex')}`;
}
