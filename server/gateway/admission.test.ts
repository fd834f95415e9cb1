import { describe, expect, it } from 'vitest';
import { GatewayAdmission, gatewayLimitsFromConfig } from './admission.js';

const limits = { maxRequestBytes: 100, maxInflightPerRun: 2, maxBufferedBytesPerRun: 150, maxBufferedBytesTotal: 200 };

describe('gateway admission', () => {
  it('gives a run only so many calls in flight, and a place back when one closes', () => {
    const a = new GatewayAdmission(limits);
    const first = a.enter('r1')!;
    expect(a.enter('r1')).not.toBeNull();
    expect(a.enter('r1')).toBeNull();
    expect(a.enter('r2')).not.toBeNull();
    first.close();
    first.close();
    expect(a.held('r1').inflight).toBe(1);
    expect(a.enter('r1')).not.toBeNull();
  });

  it('refuses bytes past the run budget and past the total, reserving nothing on refusal', () => {
    const a = new GatewayAdmission(limits);
    const s1 = a.enter('r1')!;
    const s2 = a.enter('r1')!;
    expect(s1.reserve(100)).toBeNull();
    expect(s2.reserve(60)).toMatch(/this run already has 100 bytes/);
    expect(s2.reserve(50)).toBeNull();
    expect(a.held('r1').bytes).toBe(150);
    const other = a.enter('r2')!;
    expect(other.reserve(60)).toMatch(/as many request bytes as it may/);
    expect(other.reserve(50)).toBeNull();
    expect(a.held()).toEqual({ inflight: 3, bytes: 200 });
  });

  it('frees bytes on releaseBytes and everything on close', () => {
    const a = new GatewayAdmission(limits);
    const s = a.enter('r1')!;
    s.reserve(80);
    s.releaseBytes();
    expect(a.held()).toEqual({ inflight: 1, bytes: 0 });
    s.reserve(30);
    s.close();
    expect(a.held()).toEqual({ inflight: 0, bytes: 0 });
    expect(s.reserve(1)).toMatch(/ended/);
    expect(a.held()).toEqual({ inflight: 0, bytes: 0 });
  });

  it('converts the config in MiB to bytes', () => {
    expect(gatewayLimitsFromConfig({ maxRequestMb: 2, maxInflightPerRun: 4, maxBufferedMbPerRun: 3, maxBufferedMbTotal: 8 })).toEqual({
      maxRequestBytes: 2 * 1024 * 1024,
      maxInflightPerRun: 4,
      maxBufferedBytesPerRun: 3 * 1024 * 1024,
      maxBufferedBytesTotal: 8 * 1024 * 1024,
    });
  });
});
