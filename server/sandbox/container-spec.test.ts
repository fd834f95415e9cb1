import { describe, expect, it } from 'vitest';
import { buildSandboxSpec, type DockerPlacement } from './container-spec.js';
import { COLLECT_CODEX_HOME, COLLECT_DIR, COLLECT_WORKSPACE, WORKSPACE_DIR, type SandboxRequest } from './driver.js';

const placement: DockerPlacement = { instance: 'default', gatewayVolume: '' };
const input: SandboxRequest = {
  runId: 'r1',
  tenant: 'ci',
  expiresAt: new Date('2026-12-02T10:00:00Z'),
  image: 'codex-runner-sandbox:latest',
  network: 'none',
  runtime: '',
  limits: { memoryMb: 1024, cpus: 1.5, pidsLimit: 256, workspaceMb: 64, tmpMb: 128, homeMb: 32 },
  ids: { uid: 70000, gid: 70001 },
  gateway: { socketDir: '/srv/data/gateway/runs/r1', relativeDir: 'runs/r1' },
};

describe('buildSandboxSpec', () => {
  const { container, volume, codexHomeVolume } = buildSandboxSpec(input, placement);
  const host = container.HostConfig!;

  it('drops every capability, forbids privilege gain and runs as the configured ids', () => {
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd).toBeUndefined();
    expect(host.SecurityOpt).toContain('no-new-privileges');
    expect(host.Privileged).toBe(false);
    expect(container.User).toBe('70000:70001');
    expect(volume.DriverOpts!.o).toContain('uid=70000,gid=70001');
    expect(host.Tmpfs!['/home/codex']).toContain('uid=70000,gid=70001');
  });

  it('has no network, a read-only root and resource limits', () => {
    expect(host.NetworkMode).toBe('none');
    expect(container.NetworkDisabled).toBe(true);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.Memory).toBe(1024 * 1024 * 1024);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.NanoCpus).toBe(1.5e9);
    expect(host.PidsLimit).toBe(256);
  });

  it('mounts only the capped workspace and Codex home volumes (again side by side, for one read at the end) and the run\'s own gateway socket directory, read-only', () => {
    expect(host.Binds).toBeUndefined();
    expect(host.Mounts).toEqual([
      { Type: 'volume', Source: 'codex-runner-ws-r1', Target: '/workspace' },
      { Type: 'volume', Source: 'codex-runner-home-r1', Target: '/home/codex/.codex' },
      { Type: 'volume', Source: 'codex-runner-ws-r1', Target: '/.cr/ws' },
      { Type: 'volume', Source: 'codex-runner-home-r1', Target: '/.cr/home' },
      { Type: 'bind', Source: '/srv/data/gateway/runs/r1', Target: '/run/codex-runner', ReadOnly: true },
    ]);
    expect(container.Cmd).toEqual(['codex-runner-main', '8089', '/run/codex-runner/gateway.sock']);
    // The main process waits on the server's stdin for its command; its output goes nowhere else.
    expect(container).toMatchObject({ OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true });
    expect(host.LogConfig).toEqual({ Type: 'none', Config: {} });
    expect(JSON.stringify(container)).not.toContain('docker.sock');
    expect(volume.DriverOpts).toMatchObject({ type: 'tmpfs', device: 'tmpfs' });
    expect(volume.DriverOpts!.o).toContain('size=64m');
    expect(codexHomeVolume.DriverOpts).toMatchObject({ type: 'tmpfs', device: 'tmpfs', o: 'size=32m,uid=70000,gid=70001,mode=0700,nosuid,nodev' });
  });

  it('labels the container and its volume with the run id, instance, tenant and expiry', () => {
    const labels = { 'codex-runner.run-id': 'r1', 'codex-runner.instance': 'default', 'codex-runner.tenant': 'ci', 'codex-runner.expires-at': '2026-12-02T10:00:00.000Z' };
    expect(container.Labels).toEqual(labels);
    expect(volume.Labels).toEqual(labels);
    expect(codexHomeVolume.Labels).toEqual(labels);
  });

  it('uses a gateway volume instead of a host path when the server runs in a container', () => {
    const spec = buildSandboxSpec(input, { ...placement, gatewayVolume: 'codex-runner-gateway' });
    expect(spec.container.HostConfig!.Mounts!.at(-1)).toEqual({
      Type: 'volume',
      Source: 'codex-runner-gateway',
      Target: '/run/codex-runner',
      ReadOnly: true,
    });
    // The whole volume is mounted: the relay still connects to the run's own socket only.
    expect(spec.container.Cmd!.at(-1)).toBe('/run/codex-runner/runs/r1/gateway.sock');
  });

  it('relays the egress proxy beside the gateway when asked, its variables left to the phase that uses it', () => {
    const spec = buildSandboxSpec({ ...input, egressProxy: true }, placement);
    expect(spec.container.Cmd).toEqual(['codex-runner-main', '8089', '/run/codex-runner/gateway.sock', '8090', '/run/codex-runner/egress.sock']);
    expect(spec.container.Env!.some((e) => /proxy/i.test(e))).toBe(false);
    // Still no network: the proxy is reached through the mounted socket directory only.
    expect(spec.container.HostConfig!.NetworkMode).toBe('none');
    expect(spec.container.HostConfig!.Mounts).toEqual(buildSandboxSpec(input, placement).container.HostConfig!.Mounts);
    const inVolume = buildSandboxSpec({ ...input, egressProxy: true }, { ...placement, gatewayVolume: 'codex-runner-gateway' });
    expect(inVolume.container.Cmd!.slice(2)).toEqual(['/run/codex-runner/runs/r1/gateway.sock', '8090', '/run/codex-runner/runs/r1/egress.sock']);
  });

  it('creates a sandbox with a phase network on it, not disabled, to be taken off before it starts', () => {
    const spec = buildSandboxSpec({ ...input, phaseNetwork: 'bridge' }, placement);
    expect(spec.container.HostConfig!.NetworkMode).toBe('bridge');
    expect(spec.container.NetworkDisabled).toBe(false);
    expect(buildSandboxSpec(input, placement).container.NetworkDisabled).toBe(true);
  });

  it('keeps the single gateway relay and no proxy variables without the egress proxy', () => {
    expect(container.Cmd).toEqual(['codex-runner-main', '8089', '/run/codex-runner/gateway.sock']);
    expect(container.Env!.some((e) => /proxy/i.test(e))).toBe(false);
  });

  it('refuses an egress proxy without a gateway, whose directory it lives in', () => {
    expect(() => buildSandboxSpec({ ...input, gateway: null, egressProxy: true }, placement)).toThrow(/needs a gateway/);
  });

  it('aliases the workspace under a path no longer than its own, so a path at the limit the workspace holds is read back too', () => {
    expect(COLLECT_WORKSPACE.length).toBeLessThanOrEqual(WORKSPACE_DIR.length);
    expect(COLLECT_WORKSPACE.startsWith(`${COLLECT_DIR}/`) && COLLECT_CODEX_HOME.startsWith(`${COLLECT_DIR}/`)).toBe(true);
    // Docker's tar walks each directory in name order: Codex's home, then the workspace.
    expect(COLLECT_CODEX_HOME < COLLECT_WORKSPACE).toBe(true);
  });

  it('mounts no gateway and idles without the relay when the key is delivered in the environment', () => {
    const spec = buildSandboxSpec({ ...input, network: 'bridge', gateway: null }, placement);
    expect(spec.container.HostConfig!.Mounts).toEqual([
      { Type: 'volume', Source: 'codex-runner-ws-r1', Target: '/workspace' },
      { Type: 'volume', Source: 'codex-runner-home-r1', Target: '/home/codex/.codex' },
      { Type: 'volume', Source: 'codex-runner-ws-r1', Target: '/.cr/ws' },
      { Type: 'volume', Source: 'codex-runner-home-r1', Target: '/.cr/home' },
    ]);
    expect(spec.container.Cmd).toEqual(['codex-runner-main']);
    expect(spec.container.HostConfig!.NetworkMode).toBe('bridge');
    expect(spec.container.NetworkDisabled).toBe(false);
  });

  it('selects another runtime only when configured', () => {
    expect(host.Runtime).toBeUndefined();
    expect(buildSandboxSpec({ ...input, runtime: 'runsc' }, placement).container.HostConfig!.Runtime).toBe('runsc');
  });
});
