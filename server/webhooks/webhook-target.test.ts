import { describe, expect, it } from 'vitest';
import { webhookTargetProblem } from './webhook-target.js';

const prefixes = ['https://ci.example.org/hooks', 'http://127.0.0.1:9000/'];

describe('webhookTargetProblem', () => {
  it('allows URLs under a prefix, with a query', () => {
    expect(webhookTargetProblem('https://ci.example.org/hooks', prefixes)).toBeNull();
    expect(webhookTargetProblem('https://ci.example.org/hooks/run-done?x=1', prefixes)).toBeNull();
    expect(webhookTargetProblem('http://127.0.0.1:9000/anything', prefixes)).toBeNull();
  });

  it('refuses another host spelled to start like the prefix, another port or scheme, and paths that only look alike', () => {
    expect(webhookTargetProblem('https://ci.example.org.evil.net/hooks', prefixes)).toMatch(/not under an allowed prefix/);
    expect(webhookTargetProblem('https://ci.example.org@evil.net/hooks', prefixes)).toMatch(/credentials/);
    expect(webhookTargetProblem('https://ci.example.org/hooksevil', prefixes)).toMatch(/not under an allowed prefix/);
    expect(webhookTargetProblem('https://ci.example.org/hooks/../admin', prefixes)).toMatch(/not under an allowed prefix/);
    expect(webhookTargetProblem('http://ci.example.org/hooks', prefixes)).toMatch(/not under an allowed prefix/);
    expect(webhookTargetProblem('http://127.0.0.1:9001/', prefixes)).toMatch(/not under an allowed prefix/);
    expect(webhookTargetProblem('http://169.254.169.254/latest/meta-data/', prefixes)).toMatch(/not under an allowed prefix/);
  });

  it('refuses what is not an http(s) URL, credentials, and any URL when the tenant has no prefixes', () => {
    expect(webhookTargetProblem('not a url', prefixes)).toMatch(/not a URL/);
    expect(webhookTargetProblem('file:///etc/passwd', prefixes)).toMatch(/http or https/);
    expect(webhookTargetProblem('https://user:pw@ci.example.org/hooks', prefixes)).toMatch(/credentials/);
    expect(webhookTargetProblem('https://ci.example.org/hooks', [])).toMatch(/not enabled/);
  });
});
