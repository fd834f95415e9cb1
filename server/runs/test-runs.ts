import type { Run } from './run.js';

/** A queued run record for tests and the bench, with any field replaced. */
export function sampleRun(over: Partial<Run> = {}): Run {
  return {
    id: 'run_00000000000000000001',
    tenant: 'a',
    status: 'queued',
    createdAt: new Date('2025-01-01T00:00:00.000Z'),
    startedAt: null,
    finishedAt: null,
    provider: 'standin',
    model: 'm',
    timeoutS: 60,
    exitCode: null,
    finalMessage: null,
    output: null,
    usage: null,
    error: null,
    changes: null,
    providerUsage: null,
    hasDiff: false,
    hasWorkspace: false,
    leftOut: [],
    artifactProblem: null,
    eventsDropped: 0,
    artifactsExpired: false,
    webhook: null,
    parentId: null,
    rootId: null,
    threadId: null,
    hasSession: false,
    usageBefore: null,
    ...over,
  };
}
