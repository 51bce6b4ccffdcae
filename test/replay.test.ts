/**
 * Replays every recorded history in test/histories/ against the current workflow code, so a change
 * that is not replay-safe (one that would break workflows already running) fails the run.
 * No Temporal server: a replay worker feeds the histories to the workflow bundle and compares commands.
 * Record or re-record fixtures with `node --import tsx test/histories/record.ts [scenario ...]`.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import type { ApprovalOutcome } from '../common/views';
import { ENROLLMENT_SCENARIOS, historyFromFixture, SCENARIOS } from './histories/record';
import { enrollmentWorkflowId, type EnrollmentState } from '../workflows/enrollment-messages';
import { testWorkflowBundle } from './support/server';

const dir = join(__dirname, 'histories');

interface Fixture {
  name: string;
  history: ReturnType<typeof historyFromFixture>;
  outcome: ApprovalOutcome;
}

/** A fixture and the outcome its workflow returned (the completed event's result). */
function load(file: string): Fixture {
  const history = historyFromFixture(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  const completed = history.events.at(-1)?.workflowExecutionCompletedEventAttributes;
  const data = completed?.result?.payloads?.[0]?.data;
  assert.ok(data, `${file}: the history does not end with a completed workflow`);
  return { name: file.replace(/\.json$/, ''), history, outcome: JSON.parse(Buffer.from(data).toString('utf8')) as ApprovalOutcome };
}

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('replay fixtures', () => {
  // v1/: recorded before the 'integrity-v2' patch, v2/: before 'signed-decisions', v3/: before 'one-round-allow';
  // replayed so that runs of that code still finish.
  const older = (sub: string) => readdirSync(join(dir, sub)).filter((f) => f.endsWith('.json')).sort().map((f) => `${sub}/${f}`);
  const files = [...readdirSync(dir).filter((f) => f.endsWith('.json')).sort(), ...older('v1'), ...older('v2'), ...older('v3')];
  const fixtures = files.map(load);

  test('every scenario of the recorder has a committed fixture that ended as the scenario says', () => {
    assert.ok(files.filter((f) => f.startsWith('v1/')).length >= 11, 'the v1 fixtures (runs from before integrity-v2) are kept');
    assert.ok(files.filter((f) => f.startsWith('v2/')).length >= 16, 'the v2 fixtures (runs from before signed-decisions) are kept');
    assert.ok(files.filter((f) => f.startsWith('v3/')).length >= 17, 'the v3 fixtures (runs from before one-round-allow) are kept');
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      assert.ok(existsSync(join(dir, `${name}.json`)), `test/histories/${name}.json is missing: record it with node --import tsx test/histories/record.ts ${name}`);
      assert.equal(fixtures.find((f) => f.name === name)?.outcome.status, scenario.outcome, `${name}.json`);
    }
  });

  test('every fixture replays against the current workflow code', async (t) => {
    const results = new Map<string, ReplayResult>();
    const replay = Worker.runReplayHistories(
      { workflowBundle: await testWorkflowBundle(), replayName: 'countersign fixtures' },
      fixtures.map((f) => ({ workflowId: f.outcome.workflowId, history: f.history })),
    );
    let i = 0;
    for await (const result of replay) results.set(fixtures[i++]!.name, result);
    assert.equal(results.size, fixtures.length, 'every history was replayed');
    for (const fixture of fixtures) {
      await t.test(fixture.name, () => {
        const result = results.get(fixture.name)!;
        assert.equal(result.workflowId, fixture.outcome.workflowId);
        assert.equal(result.error, undefined, `${fixture.name}.json no longer replays: ${result.error?.name}: ${result.error?.message}`);
      });
    }
  });
});

describe('replay fixtures of passkey enrolments', () => {
  const sub = join(dir, 'enrollment');
  const fixtures = readdirSync(sub)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const history = historyFromFixture(JSON.parse(readFileSync(join(sub, file), 'utf8')));
      const data = history.events.at(-1)?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]?.data;
      assert.ok(data, `enrollment/${file}: the history does not end with a completed workflow`);
      return { name: file.replace(/\.json$/, ''), history, state: JSON.parse(Buffer.from(data).toString('utf8')) as EnrollmentState };
    });

  test('every enrolment scenario has a committed fixture that ended as the scenario says', () => {
    for (const [name, scenario] of Object.entries(ENROLLMENT_SCENARIOS)) {
      const fixture = fixtures.find((f) => f.name === name);
      assert.ok(fixture, `test/histories/enrollment/${name}.json is missing: record it with node --import tsx test/histories/record.ts ${name}`);
      assert.equal(fixture.state.status, scenario.status, `${name}.json`);
    }
  });

  test('every enrolment fixture replays against the current workflow code', async () => {
    const replay = Worker.runReplayHistories(
      { workflowBundle: await testWorkflowBundle(), replayName: 'countersign enrolment fixtures' },
      fixtures.map((f) => ({ workflowId: enrollmentWorkflowId(f.state.reviewer), history: f.history })),
    );
    let i = 0;
    for await (const result of replay) {
      const fixture = fixtures[i++]!;
      assert.equal(result.error, undefined, `enrollment/${fixture.name}.json no longer replays: ${result.error?.name}: ${result.error?.message}`);
    }
    assert.equal(i, fixtures.length, 'every history was replayed');
  });
});
