// The ways out of a container a hostile run would try first, tried from inside a real run: one
// probe command prints key=value facts (as in sandbox-hardening.test.ts, which checks the ids,
// CapEff, NoNewPrivs, the read-only root, the interfaces and the limits; this file goes past them).
// Real Docker, real Codex. No probe sends a packet anywhere: the network is read from /proc/net.
import { expectRunReleased } from './fixtures/released.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../server/config/config.js';
import { leftovers } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

/** Syscalls behind known container escapes and host-wide effects, by x86_64 number. */
const DANGEROUS_SYSCALLS: Record<string, number> = {
  open_by_handle_at: 304, // "Shocker": opens host files by handle past the container's root
  name_to_handle_at: 303,
  mount: 165, umount2: 166, fsopen: 430, fsmount: 432, move_mount: 429, open_tree: 428, pivot_root: 155, chroot: 161,
  unshare: 272, setns: 308,
  keyctl: 250, add_key: 248, request_key: 249, // the kernel keyring is not namespaced
  bpf: 321, perf_event_open: 298, userfaultfd: 323,
  init_module: 175, finit_module: 313, delete_module: 176, kexec_load: 246, kexec_file_load: 320,
  reboot: 169, swapon: 167, syslog: 103, acct: 163, iopl: 172, ioperm: 173, settimeofday: 164, quotactl: 179,
};

const syscallProbe = `perl -MErrno -e '
my %calls = (${Object.entries(DANGEROUS_SYSCALLS).map(([name, nr]) => `${name} => ${nr}`).join(', ')});
for my $n (sort keys %calls) { $! = 0; my $r = syscall($calls{$n}, 0, 0, 0, 0, 0); my ($e) = grep { $!{$_} } keys %!; print "syscall_$n=", ($r < 0 ? $e : "returned $r"), "\\n"; }'`;

const probe = String.raw`
try() { n=$1; shift; if "$@" >/dev/null 2>/tmp/err; then echo "$n=allowed"; else echo "$n=refused $(head -n1 /tmp/err)"; fi; }
mkdir -p /tmp/m
try mount_tmpfs mount -t tmpfs none /tmp/m
try mount_bind mount --bind /workspace /tmp/m
for ns in U m n p i u C; do try unshare_$ns unshare -$ns -f true; done
try unshare_map_root unshare -r true
try chroot /usr/sbin/chroot / true
try mknod mknod /tmp/blk b 8 0
try dmesg dmesg

echo "setid_files=$(find / -xdev -perm /6000 -type f 2>/dev/null | sort | tr '\n' ' ')"
# Each set-id program waiting on its stdin long enough to read the ids it runs with.
mkdir /tmp/setid
for b in $(find / -xdev -perm /6000 -type f 2>/dev/null); do sleep 3 2>/dev/null | "$b" >/dev/null 2>&1 & echo "$b" > /tmp/setid/$!; done
sleep 0.5
for p in $(ls /tmp/setid); do awk -v b="$(cat /tmp/setid/$p)" '/^Uid:/ {u=$3} /^Gid:/ {g=$3} END {if (u != "") print "setid_running_" b "=euid " u " egid " g}' /proc/$p/status 2>/dev/null; kill $p 2>/dev/null; done
echo "rw_mounts_without_nosuid=$(awk '$4 ~ /^rw(,|$)/ && $4 !~ /(^|,)nosuid(,|$)/ {print $2}' /proc/mounts | tr '\n' ' ')"

for c in CapInh CapPrm CapBnd CapAmb; do echo "$c=$(awk -v c="$c:" '$1 == c {print $2}' /proc/self/status)"; done
echo "seccomp=$(awk '$1 == "Seccomp:" {print $2}' /proc/self/status)"
${syscallProbe}

for f in kernel/core_pattern kernel/randomize_va_space kernel/panic_on_oops vm/panic_on_oom vm/drop_caches net/ipv4/ip_forward; do try "proc_sys_$f" bash -c "echo 1 > /proc/sys/$f"; done
try sysrq_trigger bash -c 'echo h > /proc/sysrq-trigger'
echo "kcore_bytes=$(head -c 16 /proc/kcore 2>/dev/null | wc -c)"
try oom_score_lowered bash -c 'echo -1000 > /proc/self/oom_score_adj'
echo "core_hard_limit=$(ulimit -Hc)"
try core_limit_raised bash -c 'ulimit -c unlimited'

cg=/sys/fs/cgroup
try cgroup_pids_max bash -c "echo max > $cg/pids/pids.max"
try cgroup_memory_limit bash -c "echo -1 > $cg/memory/memory.limit_in_bytes"
try cgroup_release_agent bash -c "echo /tmp/x > $cg/memory/release_agent"
try cgroup_notify_on_release bash -c "echo 1 > $cg/memory/notify_on_release"
try cgroup_child mkdir $cg/pids/escape
try cgroup_new_hierarchy mkdir $cg/escape
echo "cgroup_rw_mounts=$(awk '($3 == "cgroup" || $3 == "cgroup2") && $4 !~ /^ro(,|$)/ {print $2}' /proc/mounts | tr '\n' ' ')"

echo "route_entries=$(tail -n +2 /proc/net/route | wc -l)"
echo "arp_entries=$(tail -n +2 /proc/net/arp | wc -l)"
echo "ipv6_interfaces=$(awk '{print $6}' /proc/net/if_inet6 | sort -u | tr '\n' ' ')"
echo "ipv6_route_devices=$(awk '{print $10}' /proc/net/ipv6_route | sort -u | tr '\n' ' ')"
echo "net_devices=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
echo "tcp_listeners=$(awk 'NR > 1 && $4 == "0A" {print $2}' /proc/net/tcp /proc/net/tcp6 | sort -u | tr '\n' ' ')"

echo "sockets=$(find / \( -path /proc -o -path /sys \) -prune -o -type s -print 2>/dev/null | sort | tr '\n' ' ')"
echo "sockets_on_root_fs=$(find / -xdev -type s 2>/dev/null | wc -l)"
echo "unix_socket_names=$(awk 'NR > 1 && $8 != "" {print $8}' /proc/net/unix | sort -u | tr '\n' ' ')"
echo "docker_env=$(env | grep -c '^DOCKER_')"
echo "dev_block=$(find /dev -type b 2>/dev/null | wc -l)"
echo "dev_char=$(find /dev -type c 2>/dev/null | sort | tr '\n' ' ')"
echo probe_done=yes
`;

let h: Harness;
let runId: string;
let facts: Map<string, string>;

beforeAll(async () => {
  h = await startHarness({ sandbox: { workspace_mb: 16, memory_mb: 512 } });
  const res = await h.createRun({ prompt: h.prompt([{ exec: probe }, { message: 'probed' }]), wait: true });
  const run: any = await res.json();
  expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
  runId = run.id;
  const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
  const output: string = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')!.data.item.aggregated_output;
  facts = new Map(output.split('\n').filter((l) => /^\w[\w/.-]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
  expect(facts.get('probe_done'), output).toBe('yes');
});
afterAll(async () => {
  await h?.close();
});

function factsStartingWith(prefix: string): [string, string][] {
  return [...facts].filter(([key]) => key.startsWith(prefix));
}

describe('from inside a run\'s sandbox', () => {
  it('cannot mount, make namespaces, chroot or make device nodes', () => {
    const refused = ['mount_tmpfs', 'mount_bind', 'unshare_U', 'unshare_m', 'unshare_n', 'unshare_p', 'unshare_i', 'unshare_u', 'unshare_C', 'unshare_map_root', 'chroot', 'mknod', 'dmesg'];
    for (const key of refused) expect([key, facts.get(key)]).toEqual([key, expect.stringMatching(/^refused .*(Operation not permitted|must be superuser)/)]);
    // mount is setuid root; libmount says so only when it did not run as root (euid != 0).
    expect(facts.get('mount_tmpfs')).toMatch(/must be superuser/);
    expect(facts.get('unshare_U')).toMatch(/Operation not permitted/);
  });

  it('runs the image\'s set-id programs with its own ids: none raises privileges', () => {
    const { uid, gid } = parseConfig({}).sandbox;
    // The Debian base ships them (shadow, util-linux, PAM); no-new-privileges makes the kernel ignore the bits.
    const setIdFiles = facts.get('setid_files')!.split(' ').filter(Boolean);
    expect(setIdFiles).toEqual(expect.arrayContaining(['/usr/bin/su', '/usr/bin/passwd', '/usr/bin/mount', '/usr/sbin/unix_chkpwd']));
    const running = factsStartingWith('setid_running_');
    // Those that wait on stdin were caught running (the rest exit at once on an empty stdin).
    expect(running.map(([key]) => key.slice('setid_running_'.length))).toEqual(expect.arrayContaining(['/usr/bin/su', '/usr/bin/passwd', '/usr/bin/newgrp', '/usr/sbin/unix_chkpwd']));
    for (const [key, ids] of running) expect([key, ids]).toEqual([key, `euid ${uid} egid ${gid}`]);
    // Nothing it can write may carry a working set-id bit.
    expect(facts.get('rw_mounts_without_nosuid')).toBe('');
  });

  it('holds no capability in any set and is filtered by seccomp', () => {
    for (const set of ['CapInh', 'CapPrm', 'CapBnd', 'CapAmb']) expect([set, facts.get(set)]).toEqual([set, '0000000000000000']);
    expect(facts.get('seccomp')).toBe('2');
  });

  it('is refused every syscall behind a known container escape', () => {
    const results = factsStartingWith('syscall_');
    expect(results.map(([key]) => key.slice('syscall_'.length)).sort()).toEqual(Object.keys(DANGEROUS_SYSCALLS).sort());
    for (const [key, result] of results) expect([key, result]).toEqual([key, 'EPERM']);
  });

  it('cannot change the kernel: /proc/sys, the sysrq trigger, kcore, its OOM protection, its core limit', () => {
    for (const [key, result] of factsStartingWith('proc_sys_')) expect([key, result]).toEqual([key, expect.stringMatching(/^refused .*Read-only file system/)]);
    expect(factsStartingWith('proc_sys_')).toHaveLength(6);
    // This kernel has no sysrq at all (the file is missing); where it has one, Docker mounts it read-only.
    expect(facts.get('sysrq_trigger')).toMatch(/^refused .*(Read-only file system|No such file or directory)/);
    expect(facts.get('kcore_bytes')).toBe('0');
    expect(facts.get('oom_score_lowered')).toMatch(/^refused .*Permission denied/);
    expect(facts.get('core_hard_limit')).toBe('0');
    expect(facts.get('core_limit_raised')).toMatch(/^refused /);
  });

  it('cannot write into the cgroup filesystem or make a cgroup', () => {
    for (const key of ['cgroup_pids_max', 'cgroup_memory_limit', 'cgroup_release_agent', 'cgroup_notify_on_release', 'cgroup_child', 'cgroup_new_hierarchy']) {
      expect([key, facts.get(key)]).toEqual([key, expect.stringMatching(/^refused .*(Read-only file system|Permission denied)/)]);
    }
    expect(facts.get('cgroup_rw_mounts')).toBe('');
  });

  it('has no route, no neighbour and no interface but loopback, and listens only on the gateway relay', () => {
    expect(facts.get('route_entries')).toBe('0');
    expect(facts.get('arp_entries')).toBe('0');
    // IPv6 is off in a network-less container here; where it is on, it lives on lo alone.
    expect(['', 'lo']).toContain(facts.get('ipv6_interfaces'));
    expect(['', 'lo']).toContain(facts.get('ipv6_route_devices'));
    expect(facts.get('net_devices')).toBe('lo');
    // 127.0.0.1:8089, the socat relay to the run's gateway socket.
    expect(facts.get('tcp_listeners')).toBe('0100007F:1F99');
  });

  it('finds no socket but its own run\'s gateway socket, and no Docker socket or endpoint', () => {
    expect(facts.get('sockets')).toBe('/run/codex-runner/gateway.sock');
    expect(facts.get('sockets_on_root_fs')).toBe('0');
    expect(facts.get('unix_socket_names')).toBe('');
    expect(facts.get('docker_env')).toBe('0');
  });

  it('has only the usual character devices in /dev and no block device', () => {
    expect(facts.get('dev_block')).toBe('0');
    expect(facts.get('dev_char')).toBe('/dev/full /dev/null /dev/pts/ptmx /dev/random /dev/tty /dev/urandom /dev/zero');
  });

  it('leaves nothing behind', async () => {
    await expectRunReleased(runId);
  });
});
