/**
 * The speaker's refusals before anything starts: a missing bird binary names the Debian
 * package, IP-in-IP on a kernel without the ipip module names the missing feature, a bad model
 * names its field — and in each case no file is written and no process started.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, KernelUnsupportedError, MissingProgramError } from '../../src/errors.js';
import { BgpSpeaker, checkEncapsulation } from '../../src/bgp/bgp-speaker.js';
import type { BgpModel } from '../../src/bgp/model.js';
import { ipipState, kernelModuleState } from '../../src/kernel/tunnel-support.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weft-bgp-speaker-'));
const model: BgpModel = {
  hostName: 'a',
  routerId: '198.18.0.1',
  asNumber: 64512,
  address4: '198.18.0.1',
  pools: ['10.244.0.0/16'],
  blocks: ['10.244.1.0/26'],
};

describe('bgp: speaker refusals', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing bird is a clear error naming the bird2 package', async () => {
    const runDir = path.join(dir, 'missing');
    await assert.rejects(
      BgpSpeaker.start(model, { runDir, birdProgram: '/nonexistent/sbin/bird' }),
      (e: unknown) => e instanceof MissingProgramError && e.packageName === 'bird2' && /apt-get install bird2/.test(e.message),
    );
    assert.equal(existsSync(runDir), false, 'nothing written');
  });

  it('a bad model is refused before any file is written', async () => {
    const runDir = path.join(dir, 'bad');
    await assert.rejects(
      BgpSpeaker.start({ ...model, asNumber: 0 }, { runDir }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'asNumber',
    );
    assert.equal(existsSync(runDir), false);
    await assert.rejects(
      BgpSpeaker.start(model, { runDir: 'relative/dir' }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'runDir',
    );
  });

  it('IP-in-IP on this kernel: refused, naming the missing ipip module', async () => {
    // This machine's kernel has no ipip (BRIEF: "Lacks … ipip"); the check must see that.
    assert.equal(ipipState(), 'absent');
    assert.throws(
      () => checkEncapsulation('ipip'),
      (e: unknown) => e instanceof KernelUnsupportedError && e.field === 'ipip' && /no ipip module/.test(e.message),
    );
    await assert.rejects(BgpSpeaker.start(model, { runDir: path.join(dir, 'ipip'), encapsulation: 'ipip' }), KernelUnsupportedError);
    assert.doesNotThrow(() => checkEncapsulation('none'));
    assert.throws(() => checkEncapsulation('gre' as never), InvalidArgumentError);
  });

  it('module state: loaded (/sys/module or built in), loadable (module index), absent', () => {
    const sys = path.join(dir, 'sys');
    const mods = path.join(dir, 'mods');
    mkdirSync(path.join(sys, 'ipip'), { recursive: true });
    mkdirSync(mods, { recursive: true });
    assert.equal(kernelModuleState('ipip', mods, sys), 'loaded');
    rmSync(path.join(sys, 'ipip'), { recursive: true });
    assert.equal(kernelModuleState('ipip', mods, sys), 'absent');
    writeFileSync(path.join(mods, 'modules.dep'), 'kernel/net/ipv4/ipip.ko.zst: kernel/net/ipv4/ip_tunnel.ko.zst\n');
    assert.equal(kernelModuleState('ipip', mods, sys), 'loadable');
    assert.equal(kernelModuleState('ip_tunnel', mods, sys), 'loadable');
    writeFileSync(path.join(mods, 'modules.builtin'), 'kernel/net/ipv4/ipip.ko\n');
    assert.equal(kernelModuleState('ipip', mods, sys), 'loaded');
    assert.equal(kernelModuleState('gre', mods, sys), 'absent');
  });
});
