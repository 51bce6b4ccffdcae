import { TestWorkflowEnvironment } from '@temporalio/testing';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import os from 'node:os';
(async () => {
  const t0 = Date.now();
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path: os.homedir() + '/.cache/countersign/temporal-1.5.1/temporal' }, port: 17233, ui: true, uiPort: 18233, dbFilename: '/tmp/t2.db',
    searchAttributes: [defineSearchAttributeKey('CountersignStatus', SearchAttributeType.KEYWORD), defineSearchAttributeKey('CountersignGroup', SearchAttributeType.KEYWORD_LIST), defineSearchAttributeKey('CountersignDeadline', SearchAttributeType.DATETIME)] } });
  console.log('up in', Date.now() - t0, env.address);
  const r = await fetch('http://127.0.0.1:18233/').then(r => r.status).catch(e => String(e));
  console.log('ui', r);
  const sa = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
  console.log(Object.keys(sa.customAttributes ?? {}));
  const lw = await env.client.workflow.list({ query: 'CountersignStatus STARTS_WITH "pen"' });
  for await (const w of lw) console.log(w.workflowId);
  console.log('starts_with ok');
  await env.teardown();
  console.log('down');
})().catch(e => { console.error('ERR', e); process.exit(1); });
