/** Token counts the provider reported in `response.completed`, summed over a run's requests. */
export interface ProviderUsage {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}

export function emptyProviderUsage(): ProviderUsage {
  return { requests: 0, input_tokens: 0, output_tokens: 0, total_tokens: 0 };
}

/** What one run may spend at its provider, counted by the gateway. */
export interface RunBudget {
  maxRequests: number;
  maxTokens: number;
}
