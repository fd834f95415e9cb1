// Responses request (what Codex sends) → Chat Completions request (what a `wire_api = "chat"`
// upstream reads). Pure: no I/O, so every mapping is unit-tested on realistic bodies.

type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string | ChatContentPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: unknown };
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: true;
  // Without it most upstreams send no usage at all when streaming, and the run's budget goes blind.
  stream_options: { include_usage: true };
  tools?: ChatTool[];
  tool_choice?: unknown;
  parallel_tool_calls?: boolean;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  response_format?: unknown;
}

type Item = Record<string, unknown>;

/** Translates a Codex Responses request body; unknown item types and non-function tools are dropped. */
export function responsesToChatRequest(body: unknown): ChatRequest {
  const b = isObject(body) ? body : {};
  const request: ChatRequest = {
    model: typeof b.model === 'string' ? b.model : '',
    messages: toMessages(b),
    stream: true,
    stream_options: { include_usage: true },
  };

  const tools = chatTools(b.tools);
  // An upstream may reject tool_choice or parallel_tool_calls without tools, and the only tools
  // Codex could offer beyond functions (web_search, freeform custom tools) have no chat equivalent.
  if (tools.length > 0) {
    request.tools = tools;
    if (b.tool_choice !== undefined) request.tool_choice = toToolChoice(b.tool_choice);
    if (typeof b.parallel_tool_calls === 'boolean') request.parallel_tool_calls = b.parallel_tool_calls;
  }
  if (typeof b.temperature === 'number') request.temperature = b.temperature;
  if (typeof b.top_p === 'number') request.top_p = b.top_p;
  if (typeof b.max_output_tokens === 'number') request.max_tokens = b.max_output_tokens;
  const format = isObject(b.text) && isObject(b.text.format) ? b.text.format : undefined;
  // `codex exec --output-schema` arrives as text.format; chat nests the same schema one level down.
  if (format?.type === 'json_schema') {
    const { type: _type, ...jsonSchema } = format;
    request.response_format = { type: 'json_schema', json_schema: jsonSchema };
  }
  return request;
}

function toMessages(body: Item): ChatMessage[] {
  const messages: ChatMessage[] = [];
  // Many chat templates (Qwen, Llama, Mistral) refuse a system message after the first turn, so
  // the instructions and every developer message before the first other item become one.
  const leading: string[] = typeof body.instructions === 'string' && body.instructions !== '' ? [body.instructions] : [];
  const push = (message: ChatMessage) => {
    if (messages.length === 0 && leading.length > 0) messages.push({ role: 'system', content: leading.join('\n\n') });
    messages.push(message);
  };

  const input = Array.isArray(body.input) ? body.input : typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : [];
  for (const raw of input) {
    if (!isObject(raw)) continue;
    const type = raw.type ?? 'message'; // Responses allows `{role, content}` without a type.
    if (type === 'message' && (raw.role === 'developer' || raw.role === 'system')) {
      if (messages.length === 0) leading.push(textOf(raw.content));
      else messages.push({ role: 'system', content: textOf(raw.content) });
    } else if (type === 'message' && raw.role === 'user') {
      push({ role: 'user', content: userContent(raw.content) });
    } else if (type === 'message' && raw.role === 'assistant') {
      push({ role: 'assistant', content: textOf(raw.content) });
    } else if (type === 'function_call') {
      const call: ChatToolCall = {
        id: String(raw.call_id ?? raw.id ?? ''),
        type: 'function',
        function: { name: String(raw.name ?? ''), arguments: typeof raw.arguments === 'string' ? raw.arguments : JSON.stringify(raw.arguments ?? {}) },
      };
      // A chat model answers text and tool calls in one assistant message; Responses splits them
      // into items. Fold the calls (and any text just before them) back into that one message.
      const last = messages.at(-1);
      if (last?.role === 'assistant') (last.tool_calls ??= []).push(call);
      else push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') {
      push({ role: 'tool', tool_call_id: String(raw.call_id ?? ''), content: outputText(raw.output) });
    }
    // reasoning (encrypted, opaque to any other provider) and other item types are dropped.
  }
  if (messages.length === 0 && leading.length > 0) messages.push({ role: 'system', content: leading.join('\n\n') });
  return messages;
}

function parts(content: unknown): Item[] {
  if (typeof content === 'string') return [{ type: 'input_text', text: content }];
  return Array.isArray(content) ? content.filter(isObject) : [];
}

function textOf(content: unknown): string {
  return parts(content)
    .map((p) => (typeof p.text === 'string' ? p.text : ''))
    .filter((t) => t !== '')
    .join('\n');
}

/** Plain text stays a string (every upstream reads that); images need the parts form. */
function userContent(content: unknown): string | ChatContentPart[] {
  const items = parts(content);
  if (!items.some((p) => p.type === 'input_image')) return textOf(content);
  return items.flatMap((p): ChatContentPart[] => {
    if (p.type === 'input_image' && typeof p.image_url === 'string') return [{ type: 'image_url', image_url: { url: p.image_url } }];
    return typeof p.text === 'string' ? [{ type: 'text', text: p.text }] : [];
  });
}

/** Tool output is a string, or (view_image and friends) a list of parts; chat tool messages hold text only. */
function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) {
    return output
      .filter(isObject)
      .map((p) => (typeof p.text === 'string' ? p.text : p.type === 'input_image' ? '[image omitted: the provider takes text tool results only]' : ''))
      .filter((t) => t !== '')
      .join('\n');
  }
  if (isObject(output) && typeof output.content === 'string') return output.content;
  return output === undefined ? '' : JSON.stringify(output);
}

/**
 * Function tools, and the functions inside `namespace` tools (Codex groups its sub-agent tools as
 * `multi_agent_v1`) flattened beside them: chat has no namespaces. A top-level name wins a clash.
 */
function chatTools(tools: unknown): ChatTool[] {
  const list = Array.isArray(tools) ? tools.filter(isObject) : [];
  const out = list.flatMap(toChatTool);
  const namespaceOf = toolNamespaces({ tools });
  for (const ns of list) {
    if (ns.type !== 'namespace' || !Array.isArray(ns.tools)) continue;
    for (const tool of ns.tools.filter(isObject).flatMap(toChatTool)) {
      const name = tool.function.name;
      if (namespaceOf[name] === ns.name && !out.some((t) => t.function.name === name)) out.push(tool);
    }
  }
  return out;
}

/**
 * Which namespace each namespaced function belongs to, so calls to it can be handed back to Codex
 * with their `namespace` (pass it to `chatToResponses`). Top-level functions are not listed.
 */
export function toolNamespaces(body: unknown): Record<string, string> {
  const tools = isObject(body) && Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  const top = new Set(tools.filter((t) => t.type === 'function').map((t) => t.name));
  const map: Record<string, string> = {};
  for (const ns of tools) {
    if (ns.type !== 'namespace' || typeof ns.name !== 'string' || !Array.isArray(ns.tools)) continue;
    for (const t of ns.tools.filter(isObject)) {
      if (t.type === 'function' && typeof t.name === 'string' && !top.has(t.name) && !(t.name in map)) map[t.name] = ns.name;
    }
  }
  return map;
}

function toChatTool(tool: Item): ChatTool[] {
  if (tool.type !== 'function' || typeof tool.name !== 'string') return [];
  const fn: ChatTool['function'] = { name: tool.name };
  if (typeof tool.description === 'string') fn.description = tool.description;
  if (tool.parameters !== undefined) fn.parameters = tool.parameters;
  return [{ type: 'function', function: fn }];
}

/** "auto" | "none" | "required" pass as is; Responses' `{type:"function", name}` nests the name in chat. */
function toToolChoice(choice: unknown): unknown {
  if (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string') {
    return { type: 'function', function: { name: choice.name } };
  }
  return choice;
}

function isObject(value: unknown): value is Item {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
