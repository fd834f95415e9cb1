// The state machine behind chatToResponses in response-stream.ts: Chat Completions SSE bytes
// (a `wire_api = "chat"` upstream) in, Responses SSE text (what Codex reads) out. Event shapes
// are the ones test/fixtures/responses-stand-in.ts shows real Codex 0.169.0 accepts.
import { randomUUID } from 'node:crypto';
import { SseDecoder } from '../sse-events.js';

/** Usage as `response.completed` reports it to Codex. */
export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface ChatToResponsesOptions {
  /** The Responses id Codex sees; a fresh `resp_…` by default. */
  responseId?: string;
  /** Called once, just before `response.completed` is sent (zeros when the upstream sent no usage). */
  onUsage?: (usage: ResponsesUsage) => void;
  /** Called once when the stream ends in `response.failed` instead, with the message Codex gets. */
  onFailure?: (failure: { code: string; message: string }) => void;
  /** Function name → namespace, from `toolNamespaces(body)`: Codex routes those calls by both. */
  toolNamespaces?: Record<string, string>;
}

interface ToolCallParts {
  id?: string;
  name: string;
  arguments: string;
}

type Json = Record<string, any>;

interface ResponseTranslator {
  /** `response.created`: send it at once, before the upstream's first byte. */
  begin(): string;
  /** Feeds upstream bytes; returns the Responses events they complete ('' if none). */
  push(chunk: Uint8Array): string;
  /** The upstream body ended: flushes and returns the closing events. */
  end(): string;
  /** The upstream connection broke: `response.failed` with this message (nothing if already done). */
  abort(message: string): string;
  /** A terminal event (`response.completed` or `response.failed`) has been produced. */
  readonly done: boolean;
}

export function createResponseTranslator(options: ChatToResponsesOptions = {}): ResponseTranslator {
  const id = options.responseId ?? `resp_${randomUUID().replaceAll('-', '')}`;
  const decoder = new SseDecoder();
  let text = '';
  let messageOpen = false;
  const calls = new Map<number, ToolCallParts>();
  let lastCallIndex = -1;
  let usage: Json | undefined;
  let events = 0;
  let finishReason: string | undefined;
  let ended = false;

  let out = '';
  const send = (type: string, payload: object) => void (out += `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`);
  const take = () => {
    const text = out;
    out = '';
    return text;
  };

  const messageItem = () => ({ type: 'message', role: 'assistant', id: `msg_${id}`, content: [] as object[] });

  function fail(code: string, message: string): void {
    ended = true;
    options.onFailure?.({ code, message });
    // Codex reads `response.error` into its error (the code decides: context_length_exceeded and
    // insufficient_quota are final, anything else is retried up to stream_max_retries), then shows the message.
    send('response.failed', { response: { id, status: 'failed', error: { type: 'upstream_error', code, message } } });
  }

  function complete(): void {
    ended = true;
    let index = 0;
    if (messageOpen || text !== '') {
      const item = { ...messageItem(), content: [{ type: 'output_text', text, annotations: [] }] };
      send('response.output_item.done', { output_index: index++, item });
    }
    for (const [n, call] of [...calls.entries()].sort(([a], [b]) => a - b)) {
      const item = {
        type: 'function_call',
        id: `fc_${id}_${n}`,
        call_id: call.id ?? `call_${id}_${n}`,
        name: call.name,
        ...(options.toolNamespaces && Object.hasOwn(options.toolNamespaces, call.name) ? { namespace: options.toolNamespaces[call.name] } : {}),
        // Codex parses the arguments as JSON; a call with none streamed means "no arguments".
        arguments: call.arguments === '' ? '{}' : call.arguments,
      };
      send('response.output_item.done', { output_index: index++, item });
    }
    const mapped = mapUsage(usage);
    options.onUsage?.(mapped);
    send('response.completed', { response: { id, status: 'completed', usage: mapped } });
  }

  function onData(data: string): void {
    if (ended || data.trim() === '') return;
    if (data.trim() === '[DONE]') return complete();
    let chunk: Json;
    try {
      chunk = JSON.parse(data);
    } catch {
      return fail('upstream_bad_event', `upstream sent an event that is not JSON: ${data.slice(0, 200)}`);
    }
    events++;
    if (chunk?.error) {
      const error = typeof chunk.error === 'object' ? chunk.error : { message: String(chunk.error) };
      const code = error.code === undefined || error.code === null ? 'upstream_error' : String(error.code);
      return fail(code, `upstream error: ${String(error.message ?? JSON.stringify(error)).slice(0, 1000)}`);
    }
    if (chunk.usage) usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((c: Json) => (c?.index ?? 0) === 0) : undefined;
    if (!choice) return;
    if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (!messageOpen) {
        // Codex drops (and logs "OutputTextDelta without active item") a delta with no item open.
        messageOpen = true;
        send('response.output_item.added', { output_index: 0, item: messageItem() });
      }
      text += delta.content;
      send('response.output_text.delta', { output_index: 0, content_index: 0, item_id: `msg_${id}`, delta: delta.content });
    }
    if (Array.isArray(delta.tool_calls)) for (const part of delta.tool_calls) addToolCallPart(part);
  }

  function addToolCallPart(part: Json): void {
    // Fragments are keyed by `index`; a few upstreams omit it and mark a new call by a new id instead.
    let n: number;
    if (typeof part.index === 'number') n = part.index;
    else if (lastCallIndex === -1 || (part.id && calls.get(lastCallIndex)?.id && part.id !== calls.get(lastCallIndex)?.id)) n = lastCallIndex + 1;
    else n = lastCallIndex;
    lastCallIndex = Math.max(lastCallIndex, n);
    const call = calls.get(n) ?? { name: '', arguments: '' };
    calls.set(n, call);
    if (typeof part.id === 'string' && part.id !== '') call.id = part.id;
    const fn = part.function ?? {};
    // OpenAI sends the name once; some upstreams repeat it whole in every fragment.
    if (typeof fn.name === 'string' && fn.name !== call.name) call.name += fn.name;
    if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
  }

  return {
    begin() {
      send('response.created', { response: { id } });
      return take();
    },
    push(chunk) {
      for (const { data } of decoder.push(chunk)) onData(data);
      return take();
    },
    end() {
      for (const { data } of decoder.end()) onData(data);
      if (ended) return take();
      // Some servers end without [DONE]; a finish_reason already says the answer is whole.
      if (finishReason !== undefined) complete();
      else if (events === 0) fail('upstream_stream_incomplete', 'upstream closed the stream without sending any Chat Completions event');
      else fail('upstream_stream_incomplete', 'upstream closed the stream before the response was complete (no finish_reason or [DONE])');
      return take();
    },
    abort(message) {
      if (!ended) fail('upstream_connection_lost', message);
      return take();
    },
    get done() {
      return ended;
    },
  };
}

function mapUsage(u: Json | undefined): ResponsesUsage {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const input = n(u?.prompt_tokens);
  const output = n(u?.completion_tokens);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: n(u?.prompt_tokens_details?.cached_tokens) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: n(u?.completion_tokens_details?.reasoning_tokens) },
    total_tokens: n(u?.total_tokens) || input + output,
  };
}
