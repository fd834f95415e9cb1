import { describe, expect, it } from 'vitest';
import { responsesToChatRequest, toolNamespaces } from './request.js';

const execTool = {
  type: 'function',
  name: 'exec_command',
  description: 'Runs a command in a PTY.',
  strict: false,
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'], additionalProperties: false },
};
const agentsNamespace = {
  type: 'namespace',
  name: 'multi_agent_v1',
  description: 'Tools for spawning and managing sub-agents.',
  tools: [{ type: 'function', name: 'close_agent', description: 'Close an agent.', strict: false, parameters: { type: 'object', properties: { target: { type: 'string' } } } }],
};

/** A third request of a turn as Codex 0.169.0 sends it (recorded, trimmed). */
function codexBody(extra: object = {}): Record<string, unknown> {
  return {
    model: 'stand-in-model',
    stream: true,
    input: [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'You are Codex.' }] },
      { type: 'message', id: 'msg_1', role: 'developer', content: [{ type: 'input_text', text: '<skills_instructions/>' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: '<environment_context/>' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: '[stand-in:two] go' }] },
      { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAA…' },
      { type: 'function_call', id: 'fc_1', name: 'exec_command', arguments: '{"cmd":"touch a"}', call_id: 'call_1' },
      { type: 'function_call_output', id: 'fco_1', call_id: 'call_1', output: 'Process exited with code 0' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Now two at once.' }] },
      { type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls"}', call_id: 'call_2' },
      { type: 'function_call', name: 'exec_command', arguments: '{"cmd":"pwd"}', call_id: 'call_3' },
      { type: 'function_call_output', call_id: 'call_2', output: 'a' },
      { type: 'function_call_output', call_id: 'call_3', output: '/work' },
    ],
    tools: [execTool, agentsNamespace, { type: 'web_search', external_web_access: true }, { type: 'custom', name: 'apply_patch', format: {} }],
    tool_choice: 'auto',
    parallel_tool_calls: true,
    reasoning: { summary: 'auto' },
    store: false,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: '01a2-…',
    client_metadata: { originator: 'codex_exec' },
    ...extra,
  };
}

describe('responsesToChatRequest', () => {
  it('turns a recorded Codex request into a streaming chat request with usage', () => {
    const chat = responsesToChatRequest(codexBody());
    expect(Object.keys(chat).sort()).toEqual(['messages', 'model', 'parallel_tool_calls', 'stream', 'stream_options', 'tool_choice', 'tools']);
    expect(chat).toMatchObject({ model: 'stand-in-model', stream: true, stream_options: { include_usage: true }, tool_choice: 'auto', parallel_tool_calls: true });
  });

  it('maps the history item by item, folding calls into the assistant turn that made them', () => {
    expect(responsesToChatRequest(codexBody()).messages).toEqual([
      { role: 'system', content: 'You are Codex.\n\n<skills_instructions/>' },
      { role: 'user', content: '<environment_context/>' },
      { role: 'user', content: '[stand-in:two] go' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"touch a"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'Process exited with code 0' },
      {
        role: 'assistant',
        content: 'Now two at once.',
        tool_calls: [
          { id: 'call_2', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"ls"}' } },
          { id: 'call_3', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"pwd"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_2', content: 'a' },
      { role: 'tool', tool_call_id: 'call_3', content: '/work' },
    ]);
  });

  it('puts instructions first in the one leading system message and keeps later developer messages in place', () => {
    const body = codexBody({ instructions: 'Be brief.' });
    (body.input as object[]).push({ type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Mode changed.' }] });
    const { messages } = responsesToChatRequest(body);
    expect(messages[0]).toEqual({ role: 'system', content: 'Be brief.\n\nYou are Codex.\n\n<skills_instructions/>' });
    expect(messages.filter((m) => m.role === 'system')).toHaveLength(2);
    expect(messages.at(-1)).toEqual({ role: 'system', content: 'Mode changed.' });
  });

  it('keeps function tools, flattens namespaced functions and drops the rest', () => {
    const { tools } = responsesToChatRequest(codexBody());
    expect(tools).toEqual([
      { type: 'function', function: { name: 'exec_command', description: execTool.description, parameters: execTool.parameters } },
      { type: 'function', function: { name: 'close_agent', description: 'Close an agent.', parameters: { type: 'object', properties: { target: { type: 'string' } } } } },
    ]);
    expect(toolNamespaces(codexBody())).toEqual({ close_agent: 'multi_agent_v1' });
  });

  it('omits tool_choice and parallel_tool_calls when no tool survives', () => {
    const chat = responsesToChatRequest(codexBody({ tools: [{ type: 'web_search' }] }));
    expect(chat).not.toHaveProperty('tools');
    expect(chat).not.toHaveProperty('tool_choice');
    expect(chat).not.toHaveProperty('parallel_tool_calls');
  });

  it('nests a named tool_choice the chat way', () => {
    expect(responsesToChatRequest(codexBody({ tool_choice: { type: 'function', name: 'exec_command' } })).tool_choice).toEqual({ type: 'function', function: { name: 'exec_command' } });
  });

  it('carries --output-schema over as response_format', () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    const chat = responsesToChatRequest(codexBody({ text: { format: { type: 'json_schema', name: 'codex_output_schema', schema, strict: true } } }));
    expect(chat.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'codex_output_schema', schema, strict: true } });
  });

  it('sends images in user messages as image_url parts and says when a tool result lost one', () => {
    const chat = responsesToChatRequest({
      model: 'm',
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'data:image/png;base64,AA==' }] },
        { type: 'function_call', call_id: 'c', name: 'view_image', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: 'shown' }, { type: 'input_image', image_url: 'data:,' }] },
      ],
    });
    expect(chat.messages[0]).toEqual({ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] });
    expect(chat.messages[2]).toMatchObject({ role: 'tool', content: expect.stringMatching(/^shown\n\[image omitted/) });
  });

  it('reads a plain string input and string contents', () => {
    expect(responsesToChatRequest({ model: 'm', input: 'hi', instructions: 'sys' }).messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'hi' },
    ]);
    expect(responsesToChatRequest({ model: 'm', input: [{ role: 'user', content: 'typeless' }] }).messages).toEqual([{ role: 'user', content: 'typeless' }]);
  });

  it('survives a body that is not an object', () => {
    expect(responsesToChatRequest(null)).toEqual({ model: '', messages: [], stream: true, stream_options: { include_usage: true } });
  });
});
