// Translation between Codex's Responses API and a Chat Completions upstream (`wire_api = "chat"`).
export { responsesToChatRequest, toolNamespaces, type ChatContentPart, type ChatMessage, type ChatRequest, type ChatTool, type ChatToolCall } from './request.js';
export { chatToResponses, chatToResponsesStream } from './response-stream.js';
export { createResponseTranslator, type ChatToResponsesOptions, type ResponseTranslator, type ResponsesUsage } from './response-translator.js';
export { SseDataDecoder } from './sse-decoder.js';

/** Where a chat upstream takes what Codex sends to `{base_url}/responses`. */
export const CHAT_COMPLETIONS_PATH = '/chat/completions';
