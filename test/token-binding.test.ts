// A run's gateway token works only through its own sandbox: each run has its own gateway socket, in
// a directory its sandbox alone mounts; a token that reached another sandbox is refused there. Real
// Docker, real Codex; the stand-in scripts a run that stole a live run's token.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../server/config/config.js';
import { docker } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';
import { STAND_IN_MODEL } from './fixtures/responses-stand-in.js';
import { until } from './fixtures/until.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const { gid } = parseConfig({}).sandbox;
const runsDir = (harness: Harness) => path.join(harness.dataDir, 'gateway', 'runs');

/** Bash speaking HTTP/1.0 to the sandbox's gateway relay; prints the status and the body. */
function gatewayCall(method: string, urlPath: string, token: string, body = ''): string {
  return [
    `B='${body}'`,
    'exec 3<>/dev/tcp/127.0.0.1/8089',
    `printf '${method} ${urlPath} HTTP/1.0\\r\\nHost: gateway\\r\\nAuthorization: Bearer %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "${token}" "\${#B}" "$B" >&3`,
    'R=$(cat <&3)',
    'echo "status=$(echo "$R" | head -1 | cut -d" " -f2)"',
    'echo "body=$(echo "$R" | tail -1)"',
  ].join('; ');
}

async function commandOutputs(harness: Harness, runId: string): Promise<string[]> {
  const events = await readSse(await harness.api(`/v1/runs/${runId}/events`));
  return events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item.aggregated_output);
}


const exists = (p: string) => stat(p).then(() => true, () => false);

describe('a run token stolen by another run', () => {
  let victim: { id: string; token: string };
  let victimMounts: any[];
  let thief: any;
  let thiefOutputs: string[];
  let victimWhileThiefRan: string;

  beforeAll(async () => {
    // The victim shows its token (as a leak would), then stays alive, its token live, until cancelled.
    const created = await h.createRun({ prompt: h.prompt([{ exec: 'echo "TOKEN=$CODEX_RUNNER_GATEWAY_TOKEN"' }, { exec: 'sleep 120' }, { message: 'never' }]) });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const eventsFile = path.join(h.dataDir, 'runs', id, 'events.jsonl');
    const token = await until('the victim to print its token', async () => (await readFile(eventsFile, 'utf8').catch(() => '')).match(/TOKEN=(crgw_[A-Za-z0-9_-]+)/)?.[1]);
    victim = { id, token };
    const [container] = await docker.listContainers({ filters: { label: [`codex-runner.run-id=${id}`] } });
    victimMounts = (await docker.getContainer(container!.Id).inspect()).Mounts;

    const res = await h.createRun({
      wait: true,
      prompt: h.prompt([
        { exec: gatewayCall('POST', '/v1/responses', victim.token, `{"model":"${STAND_IN_MODEL}","input":[]}`) },
        { exec: gatewayCall('GET', '/v1/models', victim.token) },
        // The same relay, with the thief's own token: the socket works, only the stolen token is refused.
        { exec: gatewayCall('GET', '/v1/models', '$CODEX_RUNNER_GATEWAY_TOKEN') },
        { exec: 'find /run/codex-runner | sort' },
        { message: 'tried' },
      ]),
    });
    thief = await res.json();
    victimWhileThiefRan = ((await (await h.api(`/v1/runs/${victim.id}`)).json()) as any).status;
    thiefOutputs = await commandOutputs(h, thief.id);
  });

  afterAll(async () => {
    if (victim) await h.api(`/v1/runs/${victim.id}/cancel`, { method: 'POST' });
  });

  it('is refused 401 with the gateway\'s envelope on the thief\'s socket while its own run is live', () => {
    expect(thief.status).toBe('succeeded');
    expect(victimWhileThiefRan).toBe('running');
    const refused = 'status=401\nbody={"error":{"code":"unauthorized","message":"unknown or expired run token"}}';
    expect(thiefOutputs[0]!.trim()).toBe(refused);
    expect(thiefOutputs[1]!.trim()).toBe(refused);
    expect(thiefOutputs[2]!.trim()).toMatch(/^status=200\nbody=\{"object":"list"/);
  });

  it('is logged at warn naming both runs, and is not counted against the victim', async () => {
    const warnings = h.logText().split('\n').filter((l) => l.includes("gateway refused a run token presented on another run's socket")).map((l) => JSON.parse(l));
    expect(warnings).toHaveLength(2);
    for (const w of warnings) expect(w).toMatchObject({ level: 40, socketRunId: thief.id, tokenRunId: victim.id });
    const cancelled = (await (await h.api(`/v1/runs/${victim.id}/cancel`, { method: 'POST' })).json()) as any;
    expect(cancelled.status).toBe('cancelled');
    const ended = await h.waitForEnd(victim.id);
    // Its own two calls (the echo and the sleep), none of the thief's.
    expect(ended.provider_usage.requests).toBe(2);
  });

  it('finds only its own socket in the gateway mount: the victim\'s directory is not mounted', async () => {
    expect(thiefOutputs[3]!.trim().split('\n')).toEqual(['/run/codex-runner', '/run/codex-runner/gateway.sock']);
    const victimDir = path.join(runsDir(h), victim.id);
    expect(victimMounts.filter((m) => m.Destination === '/run/codex-runner')).toEqual([
      expect.objectContaining({ Type: 'bind', Source: victimDir, RW: false }),
    ]);
  });

  it('leaves no run directory behind once the runs ended, by success or cancel', async () => {
    expect(await exists(path.join(runsDir(h), victim.id))).toBe(false);
    expect(await exists(path.join(runsDir(h), thief.id))).toBe(false);
  });
});

describe('each run\'s socket on the host', () => {
  it('is reachable by the sandboxes\' group only, in a directory of its own below ones they may traverse but not list', async () => {
    const created = (await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60' }]) })).json()) as { id: string };
    try {
      const dir = path.join(runsDir(h), created.id);
      // Its mode is set just after listen() makes it (as root 0755: no one else may connect to it then).
      const socket = await until('the run\'s socket, its mode set', async () => {
        const found = await stat(path.join(dir, 'gateway.sock')).catch(() => undefined);
        return found && (found.mode & 0o777) === 0o660 ? found : undefined;
      });
      expect(socket.isSocket()).toBe(true);
      expect(socket.gid).toBe(gid);
      const modes = await Promise.all([dir, runsDir(h), path.dirname(runsDir(h))].map(async (d) => [d, (await stat(d)).mode & 0o777, (await stat(d)).gid]));
      expect(modes).toEqual([[dir, 0o750, gid], [runsDir(h), 0o710, gid], [path.dirname(runsDir(h)), 0o710, gid]]);
      expect(await readdir(dir)).toEqual(['gateway.sock']);
    } finally {
      await h.api(`/v1/runs/${created.id}/cancel`, { method: 'POST' });
    }
    await h.waitForEnd(created.id);
    expect(await readdir(runsDir(h))).toEqual([]);
  });

  it('is removed when the run times out', async () => {
    const created = (await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60' }]), options: { timeout_s: 3 } })).json()) as { id: string };
    await until('the run\'s socket', async () => ((await exists(path.join(runsDir(h), created.id, 'gateway.sock'))) ? true : undefined));
    const run = await h.waitForEnd(created.id);
    expect(run.status).toBe('timed_out');
    expect(await readdir(runsDir(h))).toEqual([]);
  });
});

describe('a run socket on the failure paths of the server', () => {
  it('is removed when the sandbox cannot start', async () => {
    await using broken = await startHarness({ sandbox: { runtime: 'no-such-runtime' } });
    const res = await broken.createRun({ prompt: broken.prompt([{ message: 'unreachable' }]), wait: true });
    const run: any = await res.json();
    expect(run.status).toBe('failed');
    expect(await readdir(runsDir(broken))).toEqual([]);
  });

  it('is closed and removed when the server shuts down under a live run', async () => {
    const other = await startHarness();
    try {
      const created = (await (await other.createRun({ prompt: other.prompt([{ exec: 'sleep 60' }]) })).json()) as { id: string };
      await until('the run\'s socket', async () => ((await exists(path.join(runsDir(other), created.id, 'gateway.sock'))) ? true : undefined));
      await other.server.close();
      expect(await exists(runsDir(other))).toBe(false);
    } finally {
      await other.close();
    }
  });
});
