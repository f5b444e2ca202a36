#!/usr/bin/env node
/** `keyroll` as the @keyroll/cli package ships it: no `rotate --local` (that needs a KeyRoll checkout). */
import { main } from './cli/main';

main();
