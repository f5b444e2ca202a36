/**
 * jest setupFiles: polyfills for Node 20 (runs in every test file's context).
 * Promise.withResolvers is ES2024 / Node 22+, and aws-local-stepfunctions v3 uses it.
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

// The SDK warns once per client that Node 20 is near its end of support. The Lambdas run on
// Node 24; this machine's Node 20 only runs the tests, so the warning is noise here.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
