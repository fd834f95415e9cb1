import { describe, expect, it } from 'vitest';
import { egressEvent } from './egress-event.js';

describe('egressEvent', () => {
  it('gives an allowed connection its bytes and no reason', () => {
    expect(egressEvent({ host: 'registry.npmjs.org', port: 443, address: '104.16.0.1', allowed: true, reason: null, bytesUp: 812, bytesDown: 90_112, ms: 41.237 })).toEqual({
      type: 'egress', host: 'registry.npmjs.org', port: 443, address: '104.16.0.1', allowed: true, bytes_up: 812, bytes_down: 90_112, ms: 41.2,
    });
  });

  it('keeps a refusal\'s reason', () => {
    expect(egressEvent({ host: 'evil.test', port: 443, address: null, allowed: false, reason: 'evil.test is not on the allow-list', bytesUp: 0, bytesDown: 0, ms: 0.04 })).toMatchObject({
      allowed: false, address: null, reason: 'evil.test is not on the allow-list', ms: 0,
    });
  });
});
