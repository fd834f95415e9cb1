import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig } from '../server/config/config.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
let facts: Map<string, string>;

const probe = [
  'echo "uid=$(id -u) gid=$(id -g)"',
  'echo "capeff=$(grep CapEff /proc/self/status | cut -f2)"',
  'echo "nonewprivs=$(grep NoNewPrivs /proc/self/status | cut -f2)"',
  'touch /etc/probe 2>/dev/null && echo "rootfs=writable" || echo "rootfs=readonly"',
  'echo "interfaces=$(ls /sys/class/net | tr "\\n" " ")"',
  'test -e /var/run/docker.sock -o -e /run/docker.sock && echo "docker_sock=present" || echo "docker_sock=absent"',
  'dd if=/dev/zero of=/workspace/fill bs=1M count=100 2>/tmp/dd.err; echo "dd_exit=$?"; grep -o "No space left on device" /tmp/dd.err | head -1 | sed "s/^/dd_error=/"; rm /workspace/fill',
  'echo "pids_max=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"',
  'echo "memory_limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"',
  'echo "host_mounts=$(awk \'$2 !~ /^\\/(proc|sys|dev|tmp|home\\/codex|workspace|\\.cr\\/(ws|home)$|run\\/codex-runner|etc\\/(hosts|hostname|resolv.conf))/ && $2 != "/" {print $2}\' /proc/mounts | tr "\\n" " ")"',
  'echo "gateway_mount=$(awk \'$2 == "/run/codex-runner" {print $4}\' /proc/mounts | cut -d, -f1)"',
  'su -c true root 2>/dev/null && echo "su=worked" || echo "su=refused"',
].join('; ');

beforeAll(async () => {
  h = await startHarness({ sandbox: { workspace_mb: 16, pids_limit: 128, memory_mb: 512 } });
  const res = await h.createRun({ prompt: h.prompt([{ exec: probe }, { message: 'probed' }]), wait: true });
  const run: any = await res.json();
  expect(run.status).toBe('succeeded');
  const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
  const output: string = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')!.data.item.aggregated_output;
  facts = new Map(output.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
});
afterAll(async () => {
  await h?.close();
});

describe('inside the sandbox', () => {
  it('runs as ids that are no account of the host, with no capabilities and no way to gain privileges', async () => {
    const { uid, gid } = parseConfig({}).sandbox;
    expect(facts.get('uid')).toBe(`${uid} gid=${gid}`);
    const hostAccounts = (await readFile('/etc/passwd', 'utf8')).split('\n').map((l) => l.split(':')[2]);
    expect(hostAccounts).not.toContain(String(uid));
    expect(facts.get('capeff')).toBe('0000000000000000');
    expect(facts.get('nonewprivs')).toBe('1');
    expect(facts.get('su')).toBe('refused');
  });

  it('has a read-only root, no network interface but loopback, and no Docker socket', () => {
    expect(facts.get('rootfs')).toBe('readonly');
    expect(facts.get('interfaces')).toBe('lo');
    expect(facts.get('docker_sock')).toBe('absent');
  });

  it('cannot write past the workspace cap', () => {
    expect(facts.get('dd_exit')).not.toBe('0');
    expect(facts.get('dd_error')).toBe('No space left on device');
  });

  it('has pids and memory limits', () => {
    expect(facts.get('pids_max')).toBe('128');
    expect(facts.get('memory_limit')).toBe(String(512 * 1024 * 1024));
  });

  it('sees no host path but the read-only gateway socket directory', () => {
    expect(facts.get('host_mounts')).toBe('');
    expect(facts.get('gateway_mount')).toBe('ro');
  });
});

// Each run's own socket, live, is checked in token-binding.test.ts.
describe('the gateway sockets on the host', () => {
  it('are under directories the sandboxes\' group alone may traverse, and gone once their run ended', async () => {
    const { gid } = parseConfig({}).sandbox;
    const dir = path.join(h.dataDir, 'gateway');
    for (const d of [dir, path.join(dir, 'runs')]) {
      const s = await stat(d);
      expect([d, s.mode & 0o777, s.gid]).toEqual([d, 0o710, gid]);
    }
    expect(await readdir(dir)).toEqual(['runs']);
    expect(await readdir(path.join(dir, 'runs'))).toEqual([]);
  });
});
