/**
 * `import { … } from 'countersign/mcp'`: the MCP gateway that puts countersign in front of an MCP
 * server's tools (what `countersign mcp-proxy` runs), for hosts that embed it: a gateway over an
 * upstream, served on stdio or HTTP (both MCP eras; the tasks extension on 2026-07-28). The command
 * itself (environment, key files, output) lives in cli/.
 */
export { McpGateway, listAllTools, type GatewayOptions } from './gateway';
export type { GatewayLogger } from './logger';
export { pinsYaml } from './pins';
export { serveHttp, serveStdio, type Serving } from './serve';
export { CALL_REFUSED, loadTaskWire, type TaskCreated } from './tasks';
export { connectUpstream } from './upstream';
export { serverNameFor, type UpstreamTarget } from './names';
export { actionRequestFor, mcpToolDigest, type ListedTool, type ToolCall } from './tool';
