/**
 * jest setupFiles: polyfills for Node 20 (runs in every test file's context).
 */
import '../../lib/local/polyfills';

// The SDK warns once per client that Node 20 is near its end of support. The Lambdas run on
// Node 24; this machine's Node 20 only runs the tests, so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
