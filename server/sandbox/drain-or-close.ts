import type { Writable } from 'node:stream';

/**
 * Calls back once `target`, which pushed back, has drained, or has gone: a target that goes (a
 * reader that gave up) takes nothing more, and holds nothing up.
 */
export function afterDrainOrClose(target: Writable, callback: () => void): void {
  const onDrain = () => {
    target.off('close', onClose);
    callback();
  };
  const onClose = () => {
    target.off('drain', onDrain);
    callback();
  };
  target.once('drain', onDrain).once('close', onClose);
}
