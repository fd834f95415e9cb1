import { describe, expect, it } from 'vitest';
import { SandboxError } from './driver.js';
import { standbyRequest } from './standby-request.js';

describe('standbyRequest', () => {
  it('frames the environment, then the argv, each as a count and NUL-ended entries, empty ones and newlines kept', () => {
    const request = standbyRequest(['bash', '-c', 'echo "$A"', ''], ['A=one\ntwo', 'B=']);
    expect(request.toString()).toBe('2\0A=one\ntwo\0B=\0' + '4\0bash\0-c\0echo "$A"\0\0');
  });

  it('frames no environment as a count of none', () => {
    expect(standbyRequest(['true'], []).toString()).toBe('0\0' + '1\0true\0');
  });

  it.each([
    ['no command', [], []],
    ['a NUL in an argument', ['echo', 'a\0b'], []],
    ['a NUL in the environment', ['true'], ['A=a\0b']],
    ['an environment entry without a name', ['true'], ['=x']],
    ['an environment entry without a value', ['true'], ['NAME']],
  ])('refuses %s, which the standby would read otherwise than meant', (_what, argv, env) => {
    expect(() => standbyRequest(argv, env)).toThrow(SandboxError);
  });
});
