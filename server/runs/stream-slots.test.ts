import { describe, expect, it } from 'vitest';
import { StreamSlots, TooManyStreamsError } from './stream-slots.js';

describe('StreamSlots', () => {
  it('refuses a tenant past its limit without touching other tenants', () => {
    const slots = new StreamSlots(2);
    slots.acquire('a');
    slots.acquire('a');
    expect(() => slots.acquire('a')).toThrow(TooManyStreamsError);
    expect(() => slots.acquire('b')).not.toThrow();
    expect(slots.count('a')).toBe(2);
    expect(slots.count('b')).toBe(1);
  });

  it('gives a slot back once, however often its release is called', () => {
    const slots = new StreamSlots(2);
    const release = slots.acquire('a');
    slots.acquire('a');
    release();
    release();
    expect(slots.count('a')).toBe(1);
    slots.acquire('a');
    expect(() => slots.acquire('a')).toThrow(/already has 2 event streams/);
  });
});
