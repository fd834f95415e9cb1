// The CLI's one way to the server: the HTTP API, its error envelope turned into a CliError.
import { CliError, EXIT, exitCodeForApiError } from './exit-codes.js';

export interface ApiTarget {
  url: string;
  token: string;
}

export class ApiClient {
  private readonly base: string;
  private readonly token: string;

  constructor(
    target: ApiTarget,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.base = target.url.replace(/\/+$/, '');
    this.token = target.token;
  }

  /** Answers a success; throws a CliError for an unreachable server or an error answer. */
  async request(pathname: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + pathname, { ...init, headers });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new CliError(EXIT.unreachable, `cannot reach ${this.base}: ${describeFetchError(err)}`);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let code: string | undefined;
    let message = text.slice(0, 500) || res.statusText;
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = body.error?.code;
      message = body.error?.message ?? message;
    } catch {
      // Not our envelope (a proxy's page): its first bytes say enough.
    }
    throw new CliError(exitCodeForApiError(res.status, code), `${res.status}${code ? ` ${code}` : ''}: ${message}`);
  }

  async json<T>(pathname: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<T> {
    return (await (await this.request(pathname, init)).json()) as T;
  }
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
