import { describe, expect, it } from 'vitest';
import { SandboxError } from './driver.js';
import { mainMarker, mainRequest, parseMainReport } from './main-request.js';

const TOKEN = '0123456789abcdef0123456789abcdef';

describe('mainRequest', () => {
  it('starts with the token', () => {
    expect(mainRequest(TOKEN, ['true'], []).toString()).toBe(`${TOKEN}\0` + '0\0' + '1\0true\0');
    expect(() => mainRequest('not-hex', ['true'], [])).toThrow(SandboxError);
  });

  it('frames the environment, then the argv, each as a count and NUL-ended entries, empty ones and newlines kept', () => {
    const request = mainRequest(TOKEN, ['bash', '-c', 'echo "$A"', ''], ['A=one\ntwo', 'B=']);
    expect(request.toString()).toBe(`${TOKEN}\0` + '2\0A=one\ntwo\0B=\0' + '4\0bash\0-c\0echo "$A"\0\0');
  });

  it('frames no environment as a count of none', () => {
    expect(mainRequest(TOKEN, ['true'], []).toString()).toBe(`${TOKEN}\0` + '0\0' + '1\0true\0');
  });

  it.each([
    ['no command', [], []],
    ['a NUL in an argument', ['echo', 'a\0b'], []],
    ['a NUL in the environment', ['true'], ['A=a\0b']],
    ['an environment entry without a name', ['true'], ['=x']],
    ['an environment entry without a value', ['true'], ['NAME']],
  ])('refuses %s, which the main process would read otherwise than meant', (_what, argv, env) => {
    expect(() => mainRequest(TOKEN, argv, env)).toThrow(SandboxError);
  });
});

describe('the main process\'s report', () => {
  it('is marked with a NUL and the token', () => {
    expect(mainMarker(TOKEN).toString()).toBe(`\0codex-runner-main:${TOKEN}:`);
  });

  it.each([
    ['0:quiet', { status: 0, quiet: true, tarFollows: false }],
    ['1:quiet:tar', { status: 1, quiet: true, tarFollows: true }],
    ['137:busy', { status: 137, quiet: false, tarFollows: false }],
    ['0:busy:tar', null],
    ['256:quiet', null],
    ['1:asleep', null],
    ['end', null],
  ])('reads %s', (line, report) => {
    expect(parseMainReport(line)).toEqual(report);
  });
});
