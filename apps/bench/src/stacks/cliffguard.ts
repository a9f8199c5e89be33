import type { Method, StackFactory } from './stack.js';

/** Placeholder until @cliffguard/rnn lands: reports itself unavailable. */
export function cliffguardStack(impl: string, method: Method): StackFactory {
  return {
    impl,
    method,
    unavailable: () => '@cliffguard/rnn has no training step yet',
    create: async () => {
      throw new Error('unavailable');
    },
  };
}
