// npm run soak [-- --runs 200 --concurrency 8]: good and hostile runs mixed against one server
// process; prints how each kind ended and what the server held before and after. Exits 1 when a run
// broke, a sandbox or temp file was left, or the server's fds or memory grew past SOAK_BOUNDS.
import { parseArgs } from 'node:util';
import Dockerode from 'dockerode';
import { formatSoakReport, soak, soakProblems } from './soak/soak.js';
import { startSoakServer } from './soak/soak-server.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
  },
});
const runs = Number(args.runs);
const concurrency = Number(args.concurrency);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(concurrency) || concurrency < 1 || concurrency > 8) {
  console.error('usage: npm run soak -- [--runs N (default 200)] [--concurrency C (1..8, default 8)]');
  process.exit(2);
}

const docker = new Dockerode();
await docker.ping();
const soakServer = await startSoakServer();
let failed = false;
process.once('SIGINT', () => void soakServer.close().finally(() => process.exit(130)));
try {
  console.log(`soak: ${runs} runs, ${concurrency} at a time, server pid ${soakServer.server.pid}`);
  let done = 0;
  const report = await soak({
    ...soakServer,
    docker,
    runs,
    concurrency,
    onOutcome: (o) => {
      done++;
      if (o.problem || done % 20 === 0) console.log(`  ${done}/${runs}${o.problem ? ` run ${o.index} (${o.name}) broke: ${o.problem}` : ''}`);
    },
  });
  console.log(`\n${formatSoakReport(report)}`);
  const problems = soakProblems(report);
  if (problems.length) {
    failed = true;
    console.error(`\nsoak FAILED:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
} finally {
  await soakServer.close();
}
process.exit(failed ? 1 : 0);
