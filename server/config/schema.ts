import { z } from 'zod';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';

// The server's TOML config, the one place a key is declared. Keys are snake_case as written in the
// file (and in error paths); `parseConfig` derives the camelCase `Config` the code reads from it, so a
// new key is one edit here. Every key has a default so an empty file is a valid config.

const providerSchema = z
  .object({
    base_url: z.url(),
    // Name of the server's environment variable holding the key; none for keyless local servers.
    key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    // Codex speaks only the Responses API; "chat" upstreams are translated by the gateway (later).
    wire_api: z.enum(['responses', 'chat']).default('responses'),
    // Extra headers and query parameters sent upstream on every call (OpenRouter, Azure).
    headers: z.record(z.string(), z.string()).default({}),
    query_params: z.record(z.string(), z.string()).default({}),
    // When set, runs may only ask for these models.
    models: z.array(z.string().min(1)).optional(),
    // Passed to Codex. Its defaults (4 and 5) mean a 500 is retried ~30 times over ~25 s.
    request_max_retries: z.number().int().min(0).max(100).optional(),
    stream_max_retries: z.number().int().min(0).max(100).optional(),
    // "gateway": the sandbox holds a per-run token and reaches the provider through the gateway.
    // "env": RISK: the real key is put in the sandbox's environment, where every command the model
    // runs can read it (and a prompt injection in the repo can send it anywhere through the egress
    // network the sandbox then needs). Only for a single-user box where that is accepted.
    key_delivery: z.enum(['gateway', 'env']).default('gateway'),
    // The Docker network a sandbox joins when key_delivery = "env" (it must reach base_url itself).
    egress_network: z.string().min(1).default('bridge'),
  })
  .strict();

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/);
const nameKey = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _');

/** What one phase of a run (setup, or Codex's) may reach besides the gateway. */
const networkPolicySchema = z
  .object({
    // "none": no interface but loopback (the gateway is a socket). "allowlist": still no interface;
    // HTTP and HTTPS go through the server's egress proxy to the `allow` entries only. "open": the
    // sandbox joins sandbox.egress_network for the phase (WEAKER: anything the bridge reaches).
    policy: z.enum(['none', 'allowlist', 'open']).default('none'),
    // "host:port" entries the allowlist proxy lets through (a host name, or an IP to allow a private one).
    allow: z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port')).default([]),
  })
  .strict()
  .prefault({});

const environmentSchema = z
  .object({
    // The sandbox image of this environment's runs; sandbox.image when unset.
    image: z.string().min(1).optional(),
    // Commands run in order in the sandbox, as its user, with `bash -lc` in /workspace, after the
    // workspace is in and before Codex starts; the first that fails ends the run setup_failed.
    setup: z.array(z.string().min(1)).default([]),
    // All setup commands together get this long (npm ci of a mid-size project takes a minute or two).
    setup_timeout_s: z.number().int().min(1).max(3600).default(600),
    // Typically registries during setup, nothing while Codex works.
    setup_network: networkPolicySchema,
    agent_network: networkPolicySchema,
    // Server environment variables (e.g. a registry token) given to the setup commands only: never to
    // Codex, and no process holding them may outlive setup.
    setup_secret_env: z.array(envVarName).default([]),
    // Sandboxes of this environment's image started ahead, as [pool] does for the default one (0:
    // none); each holds a container's memory while it waits. Not for an "open" phase, whose
    // sandbox is made on the bridge network.
    pool_size: z.number().int().min(0).max(64).default(0),
  })
  .strict();

const tenantSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _'),
    token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'hex sha256 of the bearer token'),
    // Providers this tenant's runs may use; all when unset.
    providers: z.array(z.string().min(1)).optional(),
    // Per-run budget at the gateway for this tenant; limits.run_max_* when unset.
    run_max_requests: z.number().int().min(1).optional(),
    run_max_tokens: z.number().int().min(1).optional(),
    // This tenant's runs in sandboxes at once; limits.max_concurrent_runs when unset. One tenant
    // at its cap waits even while other slots are free, so a burst cannot take the whole machine.
    max_concurrent_runs: z.number().int().min(1).optional(),
    // This tenant's runs waiting at once; limits.max_queued_runs when unset. Past it, 429 queue_full.
    max_queued_runs: z.number().int().min(0).optional(),
    // Its share of the slots while tenants wait: a weight 2 tenant's runs are taken twice as often
    // as a weight 1 tenant's; 1 when unset.
    weight: z.number().int().min(1).max(100).optional(),
    // Ceilings on what its runs may ask for in their options; the server's own values when unset
    // (limits.max_timeout_s, sandbox.memory_mb, sandbox.cpus, sandbox.workspace_mb), which they
    // may not exceed. A run that asks for nothing gets the ceiling (timeout: default_timeout_s, at
    // most the ceiling).
    max_timeout_s: z.number().int().min(1).optional(),
    max_memory_mb: z.number().int().min(64).optional(),
    max_cpus: z.number().positive().max(64).optional(),
    max_workspace_mb: z.number().int().min(1).optional(),
    // Where this tenant's runs may send their completion webhook (`webhook_url`): http(s) URL
    // prefixes, origin matched exactly, path by prefix. None: no webhooks.
    webhook_prefixes: z.array(z.url({ protocol: /^https?$/ })).optional(),
    // The server's environment variable holding the secret the webhooks are signed with (HMAC).
    webhook_secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
    // The [environments.NAME] this tenant's runs may pick (`environment`); all when unset.
    environments: z.array(nameKey).optional(),
    // Opt-in (false when unset) for environments with an "open" phase: a bridge network reaches
    // whatever the host does.
    allow_open_network: z.boolean().optional(),
  })
  .strict();

export const configFileSchema = z
  .object({
    server: z
      .object({
        listen: z
          .string()
          .regex(/^[^:]+:\d{1,5}$/, 'host:port')
          // A value the regex refused has a NaN port: the negation leaves it to the regex's one message.
          .refine((l) => !(splitListen(l).port > 65_535), { error: (iss) => `port ${splitListen(String(iss.input)).port} out of range` })
          .default('127.0.0.1:8080'),
        data_dir: z.string().min(1).default('./data'),
        // Labels every container and volume; the startup sweep removes only this instance's leftovers.
        instance: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/).default('default'),
        log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        // Grace given to running runs on SIGTERM before they are cancelled.
        shutdown_grace_s: z.number().int().min(0).max(3600).default(10),
        // A client gets this long to send its request headers (Node's own 60 s lets a slow-header
        // client hold a socket a minute for free).
        headers_timeout_s: z.number().int().min(1).max(600).default(15),
        // ...and this long for the whole request, upload included: 256 MiB at ~0.5 MiB/s.
        request_timeout_s: z.number().int().min(1).max(3600).default(600),
        // An idle keep-alive connection is closed after this long.
        keep_alive_timeout_s: z.number().int().min(1).max(600).default(5),
        // Open connections past this are closed as they arrive: a file descriptor each, and memory.
        max_connections: z.number().int().min(1).default(1024),
        // The engine is pinged this often; while it does not answer, new runs get 503 not_ready.
        engine_check_interval_s: z.number().min(0.1).max(600).default(5),
        // Sandboxes that no live run owns (a removal that failed) are removed this often.
        sweep_interval_s: z.number().min(0.1).max(86_400).default(60),
      })
      .strict()
      .prefault({}),
    sandbox: z
      .object({
        image: z.string().min(1).default('codex-runner-sandbox:latest'),
        // "none" keeps the sandbox offline; Codex still reaches its provider through the gateway socket.
        network: z.string().min(1).default('none'),
        // OCI runtime, e.g. "runsc" for gVisor; empty means the engine default (runc).
        runtime: z.string().default(''),
        memory_mb: z.number().int().min(64).default(2048),
        cpus: z.number().positive().max(64).default(2),
        pids_limit: z.number().int().min(32).default(512),
        // The workspace is a size-capped tmpfs volume: writes past it fail with ENOSPC. It lives in RAM.
        workspace_mb: z.number().int().min(1).default(512),
        tmp_mb: z.number().int().min(16).default(512),
        // Each of the two: HOME's tmpfs, and the volume of Codex's home within it (its config and session).
        home_mb: z.number().int().min(16).default(256),
        // The ids sandboxes run as: no account of the host's (see DEFAULT_SANDBOX_IDS for why
        // that matters). Tar's ustar header holds ids up to 262143, which caps the choice.
        uid: z.number().int().min(1).max(262_143).default(DEFAULT_SANDBOX_IDS.uid),
        gid: z.number().int().min(1).max(262_143).default(DEFAULT_SANDBOX_IDS.gid),
        // The Docker network a sandbox joins for a phase whose environment policy is "open".
        egress_network: z.string().min(1).default('bridge'),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        upload_max_mb: z.number().int().min(1).default(256),
        // A JSON body that carries a workspace inline (the files of chat completions and MCP's codex_run) is
        // read whole into memory before it is checked, unlike an upload, which streams to disk.
        inline_workspace_max_mb: z.number().int().min(1).max(256).default(16),
        workspace_max_entries: z.number().int().min(1).default(50_000),
        // Written to Codex's stdin (not its argv, which Linux caps at 128 KiB an argument). At most
        // 1 MiB: Codex 0.169 fails a turn whose input passes 1,048,576 characters (input_too_large).
        prompt_max_bytes: z.number().int().min(1).max(1024 * 1024).default(100_000),
        // A run's output_schema as JSON. Codex sends it with every request to the provider; it travels
        // in the options field (64 KiB with the rest) and in the launcher's environment (128 KiB a string).
        output_schema_max_kb: z.number().int().min(1).max(48).default(32),
        // Image parts of a run's form, each sent upstream as a data URL in every request Codex makes
        // (a third larger in base64): 4 x 2 MiB stays under gateway.max_request_mb's 16 with room for
        // the rest of the history. They are held in the sandbox's /tmp (sandbox.tmp_mb).
        image_max_count: z.number().int().min(0).max(32).default(4),
        image_max_mb: z.number().int().min(1).max(64).default(2),
        // Codex's session (its rollout: the conversation, tool calls and their outputs), kept with an
        // ended run so a follow-up can resume it. One past this is not kept: that run has no follow-ups.
        session_max_mb: z.number().int().min(1).default(64),
        // The slots: runs in sandboxes at once, whatever their tenant. Size it for the machine: each
        // run holds up to memory_mb + workspace_mb + tmp_mb + 2 x home_mb of RAM and cpus of CPU.
        max_concurrent_runs: z.number().int().min(1).default(4),
        // Runs waiting for a slot, all tenants together; past it, 429 queue_full. Waiting runs are
        // taken round-robin across tenants (by [[tenants]] weight), first come first served within one.
        max_queued_runs: z.number().int().min(0).default(100),
        default_timeout_s: z.number().int().min(1).default(900),
        max_timeout_s: z.number().int().min(1).default(3600),
        // Reading the final workspace and making the diff, after Codex exits; its own deadline, so a
        // stuck read ends the run with collect_timeout instead of holding it until timeout_s.
        collect_timeout_s: z.number().int().min(1).max(3600).default(120),
        // A run whose Codex prints no event for this long is stuck (a hung tool, a provider that
        // never answers): it ends timed_out with idle_timeout instead of holding a slot to timeout_s.
        idle_timeout_s: z.number().int().min(1).default(600),
        // A timed-out or cancelled run keeps what its sandbox holds, read under this shorter deadline.
        partial_collect_timeout_s: z.number().int().min(1).max(3600).default(30),
        // Per-run budget enforced by the gateway: provider requests, and tokens as the provider
        // counts them (input + output, summed over requests; Codex resends the history each time).
        run_max_requests: z.number().int().min(1).default(500),
        run_max_tokens: z.number().int().min(1).default(20_000_000),
        // A run's event log. Any command in the sandbox can write to Codex's stdout
        // (/proc/<codex pid>/fd/1), so these bound what one run can make the server store; past them
        // Codex's events are counted (the run's events_dropped), not stored. Lifecycle events always are.
        run_max_events: z.number().int().min(1).default(100_000),
        run_max_event_log_mb: z.number().int().min(1).default(64),
        // One Codex stdout line; a longer one is skipped as it arrives, never held whole. Codex does
        // not shorten a command's aggregated_output: a command printing more loses its item event.
        event_line_max_kb: z.number().int().min(1).default(4096),
        // Concurrent GET /v1/runs/{id}/events streams per tenant (each holds a file and a socket);
        // past it a 429 too_many_streams.
        max_event_streams_per_tenant: z.number().int().min(1).default(16),
      })
      .strict()
      .prefault({}),
    gateway: z
      .object({
        // Directory holding the gateway's Unix socket; default <data_dir>/gateway.
        socket_dir: z.string().min(1).optional(),
        // When the server itself runs in a container, the Docker volume holding socket_dir, so
        // sibling sandboxes can mount it. Empty: socket_dir is a host path and is bind-mounted.
        socket_volume: z.string().default(''),
        // One request body. Measured with Codex 0.169: the first request is ~40 KB (instructions and
        // tools) and each tool call adds at most ~12 KB (Codex truncates tool output); a full context
        // window of text is ~2 MB. 16 leaves room for images and reasoning items in the history.
        max_request_mb: z.number().int().min(1).default(16),
        // Codex has one call in flight per turn; a few more cover a retry overlapping its predecessor.
        // Past it, 429: a sandbox opening many calls at once is not Codex.
        max_inflight_per_run: z.number().int().min(1).default(4),
        // Request bytes one run may have the gateway read at once: one body at the cap, as Codex sends
        // one at a time.
        max_buffered_mb_per_run: z.number().int().min(1).default(16),
        // Request bytes all runs together may have the gateway read at once: bounds the server's
        // memory however many sandboxes send (the heap holds a few times this while bodies are parsed).
        // At least max_buffered_mb_per_run x limits.max_concurrent_runs (4 x 16), so that no run can
        // spend the budget another run needs.
        max_buffered_mb_total: z.number().int().min(1).default(64),
        // How long a provider may send nothing: before its headers, or between two chunks of its
        // answer. Past it the call is cut and the run ends provider_timeout naming the provider. At most
        // 290: Codex gives up on a silent stream after its own 300 s (stream_idle_timeout_ms) and
        // retries with a generic "stream disconnected", so the gateway must speak first.
        upstream_idle_timeout_s: z.number().int().min(1).max(290).default(240),
      })
      .strict()
      .prefault({}),
    pool: z
      .object({
        // Sandboxes started ahead, hardened and empty, for runs of the server's default shape
        // (sandbox.* limits, a gateway provider): such a run skips the container start (~0.1-0.3 s).
        // Each waits holding a container, a tmpfs volume and a few MB of RAM; one run uses one and it
        // is removed after. 0 turns the pool off.
        size: z.number().int().min(0).max(64).default(2),
        // Below this much available host memory (MemAvailable) the pool holds nothing: runs need it more.
        min_available_mb: z.number().int().min(0).default(1024),
        // A sandbox that waited this long is replaced by a fresh one.
        max_idle_s: z.number().int().min(1).default(600),
        // How often the pool checks its size and the host's memory; it also refills after each claim.
        refill_interval_ms: z.number().int().min(10).max(600_000).default(1000),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        // GET /metrics wants this token (hex sha256 of it); empty: any tenant's token will do.
        token_sha256: z.union([z.literal(''), z.string().regex(/^[0-9a-f]{64}$/, 'hex sha256 of the bearer token')]).default(''),
      })
      .strict()
      .prefault({}),
    webhooks: z
      .object({
        // Deliveries of one run's webhook before it is given up (a network error, a 5xx or a 429
        // is retried; another answer is not).
        max_attempts: z.number().int().min(1).max(20).default(5),
        // The wait before the second attempt; doubled after each failure (1, 2, 4, 8 s).
        first_backoff_ms: z.number().int().min(1).default(1000),
        // One attempt's deadline.
        timeout_s: z.number().int().min(1).max(300).default(10),
      })
      .strict()
      .prefault({}),
    retention: z
      .object({
        // Artifacts (diff, workspace, events) of runs that ended longer ago are removed; the record
        // stays, marked expired, and its artifact routes answer 410.
        max_age_days: z.number().min(0.001).default(30),
        // The ended runs' artifacts together stay under this; the oldest go first.
        max_bytes: z.number().int().min(1).default(10 * 1024 ** 3),
        // How often the retention sweep runs.
        sweep_interval_s: z.number().int().min(1).default(300),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        // The SQLite file holding run records, prompts and options, so runs outlive a restart; on
        // local disk (WAL needs shared memory, which network filesystems do not give). Default
        // <data_dir>/runs.db.
        path: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    defaults: z
      .object({
        provider: z.string().min(1).default('openai'),
        model: z.string().min(1).default('gpt-5-codex'),
      })
      .strict()
      .prefault({}),
    providers: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/), providerSchema)
      .default({
        openai: {
          base_url: 'https://api.openai.com/v1',
          key_env: 'OPENAI_API_KEY',
          wire_api: 'responses',
          headers: {},
          query_params: {},
          key_delivery: 'gateway',
          egress_network: 'bridge',
        },
      }),
    // Toolchains and setup a run may pick with its `environment` option. "default" (sandbox.image, no
    // setup, no network) exists unless declared here.
    environments: z.record(nameKey, environmentSchema).default({}),
    tenants: z.array(tenantSchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [name, env] of Object.entries(cfg.environments)) {
      for (const phase of ['setup_network', 'agent_network'] as const) {
        const { policy, allow } = env[phase];
        if (allow.length && policy !== 'allowlist') ctx.addIssue({ code: 'custom', path: ['environments', name, phase, 'allow'], message: `allow needs policy = "allowlist" (it is "${policy}")` });
        if (!allow.length && policy === 'allowlist') ctx.addIssue({ code: 'custom', path: ['environments', name, phase, 'allow'], message: 'policy "allowlist" with nothing allowed: use "none"' });
        allow.forEach((entry, i) => {
          const port = Number(entry.slice(entry.lastIndexOf(':') + 1));
          if (port < 1 || port > 65_535) ctx.addIssue({ code: 'custom', path: ['environments', name, phase, 'allow', i], message: `port ${port} out of range` });
        });
      }
      // Nothing would use them, and a secret with no setup is a config mistake.
      if (env.setup_secret_env.length && !env.setup.length) ctx.addIssue({ code: 'custom', path: ['environments', name, 'setup_secret_env'], message: 'no setup commands to give them to' });
      if (!env.setup.length && env.setup_network.policy !== 'none') ctx.addIssue({ code: 'custom', path: ['environments', name, 'setup_network'], message: 'no setup commands to give a network to' });
      if (name === 'default' && env.pool_size > 0) ctx.addIssue({ code: 'custom', path: ['environments', name, 'pool_size'], message: 'the default environment is pooled by [pool] size' });
      if (env.pool_size > 0 && (env.setup_network.policy === 'open' || env.agent_network.policy === 'open')) {
        ctx.addIssue({ code: 'custom', path: ['environments', name, 'pool_size'], message: 'an environment with an "open" phase cannot be pooled: its sandbox is made on the bridge network' });
      }
    }
    if (!cfg.providers[cfg.defaults.provider]) {
      ctx.addIssue({ code: 'custom', path: ['defaults', 'provider'], message: `no [providers.${cfg.defaults.provider}] table` });
    }
    const gw = cfg.gateway;
    // Otherwise a body at the cap could never be admitted.
    if (gw.max_request_mb > gw.max_buffered_mb_per_run) {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'max_request_mb'], message: 'exceeds gateway.max_buffered_mb_per_run' });
    }
    if (gw.max_buffered_mb_per_run > gw.max_buffered_mb_total) {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'max_buffered_mb_per_run'], message: 'exceeds gateway.max_buffered_mb_total' });
    }
    if (cfg.limits.default_timeout_s > cfg.limits.max_timeout_s) {
      ctx.addIssue({ code: 'custom', path: ['limits', 'default_timeout_s'], message: 'exceeds limits.max_timeout_s' });
    }
    const names = new Set<string>();
    cfg.tenants.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tenants', i, 'name'], message: `duplicate tenant ${t.name}` });
      names.add(t.name);
      t.environments?.forEach((e, j) => {
        const env = cfg.environments[e];
        if (!env && e !== 'default') ctx.addIssue({ code: 'custom', path: ['tenants', i, 'environments', j], message: `no [environments.${e}] table` });
        if (env && !t.allow_open_network && (env.setup_network.policy === 'open' || env.agent_network.policy === 'open')) {
          ctx.addIssue({ code: 'custom', path: ['tenants', i, 'environments', j], message: `environment ${e} has an "open" network: the tenant needs allow_open_network = true` });
        }
      });
      t.providers?.forEach((p, j) => {
        if (!cfg.providers[p]) ctx.addIssue({ code: 'custom', path: ['tenants', i, 'providers', j], message: `no [providers.${p}] table` });
      });
      // A tenant's quota may only narrow the server's own: the sandbox and limits sections are what the machine was sized for.
      const ceilings = [
        ['max_concurrent_runs', t.max_concurrent_runs, cfg.limits.max_concurrent_runs, 'limits.max_concurrent_runs'],
        ['max_queued_runs', t.max_queued_runs, cfg.limits.max_queued_runs, 'limits.max_queued_runs'],
        ['max_timeout_s', t.max_timeout_s, cfg.limits.max_timeout_s, 'limits.max_timeout_s'],
        ['max_memory_mb', t.max_memory_mb, cfg.sandbox.memory_mb, 'sandbox.memory_mb'],
        ['max_cpus', t.max_cpus, cfg.sandbox.cpus, 'sandbox.cpus'],
        ['max_workspace_mb', t.max_workspace_mb, cfg.sandbox.workspace_mb, 'sandbox.workspace_mb'],
      ] as const;
      for (const [key, value, max, maxKey] of ceilings) {
        if (value !== undefined && value > max) ctx.addIssue({ code: 'custom', path: ['tenants', i, key], message: `exceeds ${maxKey} (${max})` });
      }
    });
  });

/** `host:port` split at its last colon; the `listen` regex checks the form. */
export function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i), port: Number(listen.slice(i + 1)) };
}
