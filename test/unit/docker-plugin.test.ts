/** Pure pieces of the Docker edge: error shapes, body parsing, pipework's IP syntax. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pluginError } from '../../src/api/docker/plugin-errors.js';
import { parsePluginBody } from '../../src/api/docker/plugin-server.js';
import { parseIpSpec } from '../../src/cli/attach-container.js';
import { IpamOverlapError, NotFoundError } from '../../src/errors.js';

describe('docker plugin edge', () => {
  it('network errors carry Err, IPAM errors carry Error (and Err, which Docker reads on non-200)', () => {
    const n = pluginError('network', new NotFoundError('network', 'x'));
    assert.equal(n.status, 500);
    assert.deepEqual(Object.keys(n.body), ['Err']);
    assert.match(n.body.Err, /network "x" not found \[WEFT_NOT_FOUND\]/);
    const i = pluginError('ipam', new IpamOverlapError('10.0.0.0/8', '10.1.0.0/16'));
    assert.equal(i.body.Error, i.body.Err);
    assert.match(i.body.Error, /overlaps .*WEFT_IPAM_OVERLAP/);
    assert.equal(pluginError('ipam', new Error('boom')).body.Error, 'boom');
  });

  it('parses bodies: empty is {}, non-objects and malformed JSON are refused', () => {
    assert.deepEqual(parsePluginBody(''), {});
    assert.deepEqual(parsePluginBody('{"a":1}'), { a: 1 });
    assert.throws(() => parsePluginBody('{"a":'), /malformed JSON/);
    assert.throws(() => parsePluginBody('[1]'), /JSON object/);
    assert.throws(() => parsePluginBody('null'), /JSON object/);
  });

  it("splits pipework's IP[/PREFIX][@GATEWAY]", () => {
    assert.deepEqual(parseIpSpec('10.0.0.5/24@10.0.0.1'), { ip: '10.0.0.5/24', gateway: '10.0.0.1' });
    assert.deepEqual(parseIpSpec('10.0.0.5'), { ip: '10.0.0.5' });
    assert.throws(() => parseIpSpec('@10.0.0.1'), /IP\[\/PREFIX\]/);
    assert.throws(() => parseIpSpec('a@b@c'), /IP\[\/PREFIX\]/);
  });
});
