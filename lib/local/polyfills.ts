/**
 * Promise.withResolvers for Node 20 (ES2024, Node 22+): aws-local-stepfunctions v3 uses it.
 * Imported by the local runners (the rehearsal) and by the jest set-up.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T | PromiseLike<T>) => void; reject: (reason?: unknown) => void };

const P = Promise as unknown as PromiseConstructor & { withResolvers?: WithResolvers };

if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(P, 'withResolvers', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      // Honour subclassing like the spec does (`new this(...)`).
      const C = typeof this === 'function' ? this : Promise;
      const promise = new C<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
