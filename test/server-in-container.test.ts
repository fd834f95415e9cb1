// The deployment of docker-compose.yml: the server in a container beside its sibling sandboxes,
// reaching them through the host's Docker socket, its gateway socket on a named volume that each
// sandbox mounts read-only. Runs the real image (scripts/build-server-image.sh) over its real API.
import { expectRunReleased } from './fixtures/released.js';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, leftovers } from './fixtures/docker.js';
import { readSse } from './fixtures/harness.js';
import { startResponsesStandIn, scriptMarker, STAND_IN_MODEL, type ResponsesStandIn } from './fixtures/responses-stand-in.js';
import { startServerContainer, type ServerContainer } from './fixtures/server-container.js';
import { makeTar } from '../server/archive/test-tarballs.js';
import { DEFAULT_SANDBOX_IDS } from '../server/domain/sandbox-ids.js';

const UPSTREAM_KEY = `sk-test-ctr-${randomBytes(12).toString('hex')}`;

let standIn: ResponsesStandIn;
let server: ServerContainer;
beforeAll(async () => {
  standIn = await startResponsesStandIn();
  server = await startServerContainer({ providerUrl: standIn.url, model: STAND_IN_MODEL, upstreamKey: UPSTREAM_KEY });
});
afterAll(async () => {
  try {
    await server?.close();
  } finally {
    await standIn?.close();
  }
});

describe('the server in a container, with sibling sandboxes', () => {
  let run: any;
  let sandboxMounts: any[] = [];
  let output = '';
  const script = `ctr-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    standIn.script(script, [
      // The sleep keeps the sandbox up while the test inspects it.
      { exec: "sed -i 's/old line/new line/' notes.txt && printf 'added\\n' > added.txt && sleep 1" },
      // The relay's command line names the run's own socket; the volume holds every run's.
      {
        exec: 'id -u; env; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"; grep " /run/codex-runner " /proc/mounts; ' +
          'S=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n" | sed -n "s/^UNIX-CONNECT://p" | head -n1); ls -l "$S"; ls /run/codex-runner/runs 2>&1',
      },
      { message: 'edited in a sibling sandbox' },
    ]);
    const form = new FormData();
    form.set('prompt', `${scriptMarker(script)} edit the notes`);
    form.set('workspace', new Blob([new Uint8Array(await makeTar([{ name: 'notes.txt', content: 'old line\n' }]))]), 'ws.tar');
    const created = await server.api('/v1/runs', { method: 'POST', body: form });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };

    // The sandbox is a sibling: the host's engine lists it, labelled with the instance and named
    // after the run (a pooled one, labelled with its pool id, is renamed when the run takes it).
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (sandboxMounts.length === 0) {
        const [sandbox] = await docker.listContainers({ filters: { name: [`^/codex-runner-${id}$`], label: [`codex-runner.instance=${server.instance}`] } });
        if (sandbox) sandboxMounts = (await docker.getContainer(sandbox.Id).inspect()).Mounts;
      }
      run = await (await server.api(`/v1/runs/${id}`)).json();
      if (!['queued', 'running'].includes(run.status)) break;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after 60 s`);
      await sleep(100);
    }
    const events = await readSse(await server.api(`/v1/runs/${id}/events`));
    output = events
      .filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')
      .map((e) => e.data.item.aggregated_output as string)
      .join('\n');
  });

  it('runs the scripted edit to success and serves its diff', async () => {
    expect(run).toMatchObject({ status: 'succeeded', exit_code: 0, error: null, final_message: 'edited in a sibling sandbox' });
    expect(run.changes).toMatchObject({ files_changed: 2, insertions: 2, deletions: 1 });
    const diff = await (await server.api(`/v1/runs/${run.id}/diff`)).text();
    expect(diff).toContain('--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-old line\n+new line\n');
    expect(diff).toContain('new file mode 100644');
    expect(diff).toContain('+++ b/added.txt\n@@ -0,0 +1 @@\n+added\n');
  });

  it('mounts the gateway volume read-only in the sandbox, by name, and never the Docker socket', () => {
    expect(sandboxMounts).toContainEqual(expect.objectContaining({ Type: 'volume', Name: server.gatewayVolume, Destination: '/run/codex-runner', RW: false }));
    expect(sandboxMounts.map((m) => m.Destination)).not.toContain('/var/run/docker.sock');
    expect(output).toMatch(new RegExp(`^${DEFAULT_SANDBOX_IDS.uid}$`, 'm'));
    // The server runs as root in its container: the run's socket is given to the sandboxes' group
    // alone, in the run's own directory, and the directory of all runs cannot be listed.
    expect(output).toMatch(new RegExp(`^srw-rw---- .* /run/codex-runner/runs/(${run.id}|pool_[\\w-]+)/gateway\\.sock$`, 'm'));
    expect(output).toMatch(/^ls: cannot open directory '\/run\/codex-runner\/runs': Permission denied$/m);
    expect(output).toMatch(/ \/run\/codex-runner \S+ ro[, ]/);
  });

  it('sends the real key upstream while the sandbox holds only its run token', async () => {
    const mine = standIn.requests.filter((r) => r.script === script);
    expect(mine.length).toBe(3);
    for (const r of mine) expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(output).toContain('CODEX_RUNNER_GATEWAY_TOKEN=crgw_');
    expect(output).not.toContain(UPSTREAM_KEY);
    expect(await server.logs()).not.toContain(UPSTREAM_KEY);
  });

  it('on SIGTERM exits 0 and leaves no container or volume of its instance', async () => {
    await expectRunReleased(run.id);
    const { exitCode } = await server.stop();
    expect(exitCode, await server.logs()).toBe(0);
    expect(await leftovers(`codex-runner.instance=${server.instance}`)).toEqual({ containers: 0, volumes: 0 });
  });
});
