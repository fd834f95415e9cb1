// The compose smoke's provider: the tests' Responses stand-in, in a container of the stack, with one
// script (`compose-smoke`) that writes a file and answers. Run with `node --import tsx`.
import { startResponsesStandIn } from '../fixtures/responses-stand-in.js';

const port = Number(process.env.STAND_IN_PORT ?? 8099);
const standIn = await startResponsesStandIn({ host: '0.0.0.0', port });
standIn.script('compose-smoke', [{ exec: 'printf "made by compose\\n" > smoke.txt' }, { message: 'compose smoke ok' }]);
console.log(`stand-in listening on ${port}`);
const stop = () => void standIn.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
