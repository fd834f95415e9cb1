import { Hono } from 'hono';
import type { Config } from '../../config/config.js';
import type { AuthEnv } from '../../http/auth.js';
import type { RunService } from '../../runs/run-service.js';
import { chatCompletionsRoute } from './chat-completions-route.js';
import { modelsRoute } from './models-route.js';

/** OpenAI's API as far as a chat client needs it; mounted under `/v1`, behind its bearer tokens. */
export function openaiRoutes(config: Config, service: RunService): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.route('/chat/completions', chatCompletionsRoute(config, service));
  app.route('/models', modelsRoute(config));
  return app;
}
