// Translation between Codex's Responses API and a Chat Completions upstream (`wire_api = "chat"`).
export { responsesToChatRequest, type ChatContentPart, type ChatMessage, type ChatRequest, type ChatTool, type ChatToolCall } from './request.js';
export { chatToResponsesStream, type ChatToResponsesOptions, type ResponsesUsage } from './response-stream.js';
export { SseDataDecoder } from './sse-decoder.js';
