#!/usr/bin/env node
/**
 * `keyroll` in a KeyRoll checkout (`npm run -s keyroll -- <command>`): the packaged CLI
 * (operator/keyroll.ts) plus `rotate --local`, which runs the synthesized state machine in
 * this process against an emulator. The commands live in operator/cli/.
 */
import { localDelivery } from '../local/local-delivery';
import { localRotation } from '../local/local-rotation';
import { main } from '../operator/cli/main';

main({ localRotation, localDelivery });
