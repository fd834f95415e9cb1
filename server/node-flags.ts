/**
 * Node flags the server runs with (`npm start`, the server image's CMD, the bench's and the tests'
 * server processes; node-flags.test.ts keeps them in step). V8 sizes its old generation's first
 * limit from the live heap, ~30 MB here, and every few MB of Buffers a stream allocates past it
 * start a full marking: collecting 200 MiB from a sandbox ran one every 60 ms, a third of the
 * JavaScript thread. From 128 MB on, the short-lived chunks go with the young generation's cheap
 * scavenges (docs/performance.md, section 10). The young generation stops at 16 MiB instead of 32:
 * a big tree's thousands of entries grew it to its limit in a server's first such run, +31 MiB of
 * RSS kept after it, and at half the size the same run took less of the server's CPU, not more.
 * Not allowed in NODE_OPTIONS, hence the command lines.
 */
export const SERVER_NODE_FLAGS = ['--initial-old-space-size=128', '--max-semi-space-size=8'];
