/** Docker-style confirmation: y/yes on a terminal proceeds, anything else does not, no terminal refuses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { confirm } from '../../src/cli/confirm.js';

function fakeTerminal(answer: string, isTTY = true): NodeJS.ReadStream {
  const s = new PassThrough() as unknown as NodeJS.ReadStream;
  (s as { isTTY?: boolean }).isTTY = isTTY;
  setImmediate(() => (s as unknown as PassThrough).write(answer));
  return s;
}

describe('confirm', () => {
  it('proceeds on y / yes, in any case', async () => {
    for (const a of ['y\n', 'Y\n', 'yes\n', ' YES \n']) assert.equal(await confirm('sure?', fakeTerminal(a)), true, a);
  });
  it('does not proceed on n, an empty line, or anything else', async () => {
    for (const a of ['n\n', '\n', 'sure\n', 'yy\n']) assert.equal(await confirm('sure?', fakeTerminal(a)), false, a);
  });
  it('refuses without a terminal, telling the user to pass -f', async () => {
    await assert.rejects(confirm('sure?', fakeTerminal('y\n', false)), { code: 'WEFT_INVALID_ARGUMENT', message: /-f\/--force/ });
  });
});
