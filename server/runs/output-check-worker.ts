// A worker thread's entry (output-check.ts starts it): one output-schema check, its answer posted back.
import { parentPort, workerData } from 'node:worker_threads';
import { checkOutput, outputSchemaProblem } from './output-schema.js';
import type { OutputCheckTask } from './output-check.js';

const task = workerData as OutputCheckTask;
parentPort!.postMessage(task.kind === 'schema' ? { problem: outputSchemaProblem(task.schema, task.maxBytes) } : { checked: checkOutput(task.finalMessage, task.schema) });
