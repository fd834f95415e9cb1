/** Inside a sandbox given the egress relay, the run's egress proxy answers here (the relay forwards it to EGRESS_SOCKET_NAME). */
export const SANDBOX_EGRESS_PORT = 8090;
export const SANDBOX_PROXY_URL = `http://127.0.0.1:${SANDBOX_EGRESS_PORT}`;
/** The egress proxy's Unix socket, beside the gateway's in a run's socket directory. */
export const EGRESS_SOCKET_NAME = 'egress.sock';

/**
 * The environment that sends a sandbox's HTTP and HTTPS through the proxy. Both spellings: curl
 * reads only lower-case `http_proxy`, Go and Python read either. NO_PROXY keeps the gateway relay
 * (127.0.0.1:8089) direct: Codex's own client honours the proxy variables too.
 */
export const SANDBOX_PROXY_ENV: readonly string[] = [
  `HTTP_PROXY=${SANDBOX_PROXY_URL}`,
  `HTTPS_PROXY=${SANDBOX_PROXY_URL}`,
  `http_proxy=${SANDBOX_PROXY_URL}`,
  `https_proxy=${SANDBOX_PROXY_URL}`,
  'NO_PROXY=127.0.0.1,localhost,::1',
  'no_proxy=127.0.0.1,localhost,::1',
];
