/** The CLI's socket resolution (-H, WEFT_HOST) and its HTTP reply parser. Pure. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SOCKET, resolveHost } from '../../src/cli/client.js';
import { parseHttpResponse } from '../../src/cli/http-response.js';
import { verbOf, globalArgs } from '../../src/cli/verbs.js';

describe('resolveHost', () => {
  it('takes -H first, then WEFT_HOST, then WEFT_SOCKET, then the default', () => {
    assert.equal(resolveHost('unix:///a.sock', { WEFT_HOST: 'unix:///b.sock' }), '/a.sock');
    assert.equal(resolveHost(undefined, { WEFT_HOST: 'unix:///b.sock', WEFT_SOCKET: '/c.sock' }), '/b.sock');
    assert.equal(resolveHost(undefined, { WEFT_SOCKET: '/c.sock' }), '/c.sock');
    assert.equal(resolveHost(undefined, {}), DEFAULT_SOCKET);
    assert.equal(resolveHost('/plain/path.sock', {}), '/plain/path.sock');
  });
  it('refuses tcp:// and relative paths, naming where the value came from', () => {
    assert.throws(() => resolveHost('tcp://1.2.3.4:2375', {}), {
      code: 'WEFT_INVALID_ARGUMENT',
      field: 'host',
      message: /unix socket only/,
    });
    assert.throws(() => resolveHost(undefined, { WEFT_HOST: 'relative.sock' }), { field: 'WEFT_HOST' });
  });
});

describe('verbOf', () => {
  it('skips global options and their values', () => {
    assert.equal(verbOf(['-H', '/s', 'network', 'ls']), 'network');
    assert.equal(verbOf(['--host', 'network', 'run']), 'run');
    assert.deepEqual(globalArgs(['-H', '/s', '--version']), ['-H', '/s', '--version']);
    assert.deepEqual(globalArgs(['run', '--', 'x', '--version']), []);
  });
});

describe('parseHttpResponse', () => {
  it('reads content-length and chunked bodies', () => {
    const a = parseHttpResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'));
    assert.equal(a.status, 200);
    assert.equal(a.body.toString(), '{}');
    const b = parseHttpResponse(
      Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'),
    );
    assert.equal(b.status, 404);
    assert.equal(b.body.toString(), 'abcde');
  });
  it('rejects truncated and garbled replies', () => {
    assert.throws(() => parseHttpResponse(Buffer.alloc(0)), /empty reply/);
    assert.throws(() => parseHttpResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}')), /content-length/);
    assert.throws(() => parseHttpResponse(Buffer.from('SSH-2.0\r\n\r\n')), /status line/);
  });
});
