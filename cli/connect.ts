/* eslint-disable @typescript-eslint/no-require-imports -- what a command does not use is never loaded */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import type { Connection } from '@temporalio/client';
import { agentKeyPath, agentsDir, cliHome, reviewerKeyPath } from '../config/home';
import type { Config } from '../config/env';
import type { AgentKeyStore } from '../client/agent-keys';
import type { Reviewer } from '../client/reviewer';
import type { Countersign } from '../client/sdk';
import { usage } from './errors';

/** Where the CLI finds the server: COUNTERSIGN_URL, by default the dev stack's. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:7280';
export const serverUrl = () => process.env.COUNTERSIGN_URL || DEFAULT_SERVER_URL;

/**
 * An agent's (or an auditor's) connection through the server. The key is COUNTERSIGN_API_KEY, else
 * the named agent's key file in $COUNTERSIGN_HOME/agents (what `npm run dev` makes), else the only one there.
 */
export async function connectAgent(options: { agent?: string; keyStore?: (home: string) => AgentKeyStore } = {}): Promise<{ cs: Countersign; home: string; close: () => Promise<void> }> {
  const config = { home: cliHome() };
  let apiKey = process.env.COUNTERSIGN_API_KEY;
  if (!apiKey) {
    const dir = agentsDir(config.home);
    let name = options.agent;
    if (!name) {
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.key')) : [];
      if (files.length !== 1) throw usage('Give the agent\'s API key in COUNTERSIGN_API_KEY (or --agent NAME, with its key in $COUNTERSIGN_HOME/agents/NAME.key).');
      name = files[0]!.slice(0, -4);
    }
    const path = agentKeyPath(config.home, name);
    if (!existsSync(path)) throw usage(`There is no API key for agent ${name}: set COUNTERSIGN_API_KEY, or create one with countersign keys agent ${name}.`);
    apiKey = readFileSync(path, 'utf8').trim();
  }
  const { Countersign } = require('../client/sdk') as typeof import('../client/sdk');
  const cs = await Countersign.connect({ url: serverUrl(), apiKey, keyStore: options.keyStore?.(config.home) });
  if (options.agent && cs.agentId !== options.agent && cs.role !== 'auditor') throw usage(`This API key is agent ${cs.agentId}'s, not ${options.agent}'s.`);
  return { cs, home: config.home, close: () => cs.close() };
}

/** A reviewer's session: `--as NAME` signs with $COUNTERSIGN_HOME/keys/reviewers/NAME.key (or --key FILE). */
export async function connectReviewer(name: string | undefined, keyFile?: string): Promise<{ reviewer: Reviewer; home: string }> {
  const config = { home: cliHome(), reviewer: process.env.COUNTERSIGN_REVIEWER || undefined };
  const who = name ?? config.reviewer;
  if (!who) throw usage('Say who is reviewing with --as NAME or the COUNTERSIGN_REVIEWER environment variable.');
  const path = keyFile ?? reviewerKeyPath(config.home, who);
  if (!existsSync(path)) throw usage(`There is no signing key for reviewer ${who} at ${path}: create one with countersign keys reviewer ${who} and register it in the policy's directory.`);
  const { Reviewer } = require('../client/reviewer') as typeof import('../client/reviewer');
  return { reviewer: await Reviewer.login({ url: serverUrl(), name: who, key: path }), home: config.home };
}

/** Operator commands only (setup, status): a direct Temporal connection from the environment; unreachable is exit 4. */
export async function connectTemporal(): Promise<{ config: Config; connection: Connection; close: () => Promise<void> }> {
  const { loadConfig, TemporalUnreachable } = require('../config/env') as typeof import('../config/env');
  const { Connection } = require('@temporalio/client') as typeof import('@temporalio/client');
  const config = loadConfig();
  let connection: Connection;
  try {
    // A port that refuses, or a host that does not answer in 2 s, is known at once; gRPC's own connect retries for 5 s.
    if (!('proxy' in config.connection && config.connection.proxy)) await probeTcp(config.address, 2000);
    connection = await Connection.connect({ ...config.connection, connectTimeout: '5s' });
  } catch (err) {
    throw new TemporalUnreachable(config.address, err);
  }
  return { config, connection, close: () => connection.close() };
}

/** Resolves once a TCP connection to host:port opens; rejects when it is refused or takes longer than `timeoutMs`. */
function probeTcp(address: string, timeoutMs: number): Promise<void> {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port: Number(address.slice(at + 1)), timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs / 1000} s`));
    });
    socket.once('error', (err) => reject(err));
  });
}
