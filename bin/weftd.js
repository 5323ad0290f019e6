#!/usr/bin/env node
// The weft daemon (CommonJS wrapper: bin/ is CommonJS so that bin/weft.js starts fast).
'use strict';
import('../dist/src/daemon/main.js').then((m) => m.main(process.argv));
