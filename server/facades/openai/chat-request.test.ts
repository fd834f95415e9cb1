import { describe, expect, it } from 'vitest';
import { ApiError } from '../../http/api-error.js';
import { parseChatRequest } from './chat-request.js';

const limits = { promptMaxBytes: 1000 };
const parse = (body: unknown) => parseChatRequest(body, limits);

function refusal(body: unknown): ApiError {
  try {
    parse(body);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('accepted');
}

describe('parseChatRequest', () => {
  it('takes the last user message as the prompt and the model as provider and model', () => {
    const req = parse({
      model: 'codex/openai/gpt-5',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'fix the tests' },
      ],
    });
    expect(req).toMatchObject({ prompt: 'fix the tests', options: { provider: 'openai', model: 'gpt-5' }, stream: false, includeUsage: false, workspace: undefined });
  });

  it('joins the text parts of a content array', () => {
    const req = parse({ model: 'codex', messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] });
    expect(req.prompt).toBe('a\nb');
    expect(req.options).toEqual({});
  });

  it('reads stream, include_usage and the extension field', () => {
    const req = parse({
      model: 'codex',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      codex_runner: { workspace: { files: { 'a.txt': 'hi' } }, timeout_s: 30 },
    });
    expect(req).toMatchObject({ stream: true, includeUsage: true, workspace: { files: { 'a.txt': 'hi' } }, options: { timeoutS: 30 } });
  });

  it('refuses a body without a user message, with only non-text parts, or empty', () => {
    expect(refusal({ model: 'codex', messages: [{ role: 'system', content: 'x' }] }).message).toMatch(/no user message/);
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }).message).toMatch(/only text parts/);
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: '  ' }] }).code).toBe('bad_request');
    expect(refusal({ model: 'codex', messages: [] }).code).toBe('bad_request');
    expect(refusal({ messages: [{ role: 'user', content: 'x' }] }).message).toMatch(/model/);
  });

  it('refuses a prompt past the cap or with a NUL byte', () => {
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: 'x'.repeat(1001) }] }).message).toMatch(/longer than 1000 bytes/);
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: 'a\0b' }] }).message).toMatch(/NUL/);
  });

  it('refuses n other than 1, an unknown extension key and a workspace of both kinds', () => {
    expect(refusal({ model: 'codex', n: 2, messages: [{ role: 'user', content: 'x' }] }).code).toBe('bad_request');
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: 'x' }], codex_runner: { memory: 1 } }).message).toMatch(/codex_runner/);
    const both = { files: { a: 'b' }, from_run: 'run_x' };
    expect(refusal({ model: 'codex', messages: [{ role: 'user', content: 'x' }], codex_runner: { workspace: both } }).message).toMatch(/workspace/);
  });

  it('refuses a model name that is not one of ours', () => {
    expect(refusal({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).code).toBe('invalid_options');
  });
});
