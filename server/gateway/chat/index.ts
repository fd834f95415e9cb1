// Translation between Codex's Responses API and a Chat Completions upstream (`wire_api = "chat"`).
export { responsesToChatRequest, toolNamespaces } from './request.js';
export { chatToResponses } from './response-stream.js';

/** Where a chat upstream takes what Codex sends to `{base_url}/responses`. */
export const CHAT_COMPLETIONS_PATH = '/chat/completions';
