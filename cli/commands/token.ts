import { ExitCode } from '../../common/codes';
import { actionDigest } from '../../common/digest';
import { ConsumeRefusedError, parseActionRequest } from '../../client/sdk';
import { connectAgent } from '../connect';
import { CliError, usage } from '../errors';
import { out, parseFlags, printJson, readJsonFile } from '../io';


export async function consumeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'consume');
  const id = positionals[0];
  if (!id) throw usage('consume needs a request id.');
  if (!values.token) throw usage('consume needs --token T (printed once by submit).');
  if (!values.action) throw usage('consume needs --action action.json: the exact action about to run.');
  const request = parseActionRequest(readJsonFile(values.action, '--action'));
  const { cs, close } = await connectAgent({ agent: values.agent ?? request.agentId });
  try {
    const receipt = await cs.consume(id, { token: values.token, agentId: request.agentId, taskId: request.taskId, actionDigest: actionDigest(request) });
    if (values.json) printJson(receipt);
    else out(`consumed: receipt ${receipt.body.receiptId} for request ${receipt.body.requestId} (signed by ${receipt.keyId}). Execute now, then: countersign report ${receipt.body.requestId} --status succeeded|failed`);
    return ExitCode.ok;
  } catch (err) {
    throw refused(err, values.json);
  } finally {
    await close();
  }
}

export async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, 'report');
  const id = positionals[0];
  if (!id) throw usage('report needs a request id.');
  if (values.status !== 'succeeded' && values.status !== 'failed') throw usage('report needs --status succeeded or --status failed.');
  const { cs, close } = await connectAgent({ agent: values.agent ?? agentOf(id) });
  try {
    await cs.report(id, {
      status: values.status,
      ...(values.message ? { message: values.message } : {}),
      ...(values['result-digest'] ? { resultDigest: values['result-digest'] } : {}),
    });
    if (values.json) printJson({ accepted: true, status: values.status });
    else out(`reported: ${values.status}.`);
    return ExitCode.ok;
  } catch (err) {
    throw refused(err, values.json);
  } finally {
    await close();
  }
}

function refused(err: unknown, json: boolean | undefined): unknown {
  if (!(err instanceof ConsumeRefusedError)) return err;
  if (json) printJson({ accepted: false, code: err.code, message: err.message });
  return new CliError(`Refused (${err.code}): ${err.message}`, err.code === 'INVALID_REQUEST' ? ExitCode.usage : ExitCode.refused);
}

/** The agent a workflow id (cs-<agent>-<request id>) names, so a dev machine with several agents' keys picks the right one. */
function agentOf(id: string): string | undefined {
  return /^cs-(.+)-[0-9a-f]{16}$/.exec(id)?.[1];
}
