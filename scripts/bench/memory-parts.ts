// What the server's RSS is made of, read from inside it: V8's heap by space, the ArrayBuffers'
// memory (Buffers), and the rest (native memory the allocator keeps, code, stacks). Read in the
// server child only (server-entry.ts); the bench's own figures come from /proc (proc.ts).
import v8 from 'node:v8';

export interface MemoryParts {
  rss: number;
  /** V8's young generation (the semi-spaces), which it grows under a high allocation rate. */
  newSpace: number;
  oldSpace: number;
  /** Every other heap space: code, maps, large objects. */
  otherSpaces: number;
  arrayBuffers: number;
}

export function memoryParts(): MemoryParts {
  const { rss, heapTotal, arrayBuffers } = process.memoryUsage();
  const spaces = new Map(v8.getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]));
  const newSpace = spaces.get('new_space') ?? 0;
  const oldSpace = spaces.get('old_space') ?? 0;
  return { rss, newSpace, oldSpace, otherSpaces: heapTotal - newSpace - oldSpace, arrayBuffers };
}

/** Samples the parts every intervalMs; stop() answers the sample with the highest RSS. */
export function watchMemoryPeak(intervalMs = 20): { stop(): MemoryParts } {
  let peak = memoryParts();
  const timer = setInterval(() => {
    const now = memoryParts();
    if (now.rss > peak.rss) peak = now;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The growth part by part; `rest` is what the parts do not explain. */
export type MemoryGrowth = MemoryParts & { rest: number };

export function memoryGrowth(idle: MemoryParts, peak: MemoryParts): MemoryGrowth {
  const minus = (key: keyof MemoryParts) => peak[key] - idle[key];
  const growth = { rss: minus('rss'), newSpace: minus('newSpace'), oldSpace: minus('oldSpace'), otherSpaces: minus('otherSpaces'), arrayBuffers: minus('arrayBuffers') };
  return { ...growth, rest: growth.rss - growth.newSpace - growth.oldSpace - growth.otherSpaces - growth.arrayBuffers };
}
