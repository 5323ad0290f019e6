/**
 * The supervisor and namespaces: a program started with `netns` really runs in that namespace
 * (its /proc/PID/ns/net is the namespace's inode, its cmdline is the program's own, not
 * nsenter's), and a pid file is not adopted by a supervisor that expects another namespace —
 * the process it names is left alone.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { netnsInode } from '../../src/kernel/netns.js';
import { isAlive } from '../../src/kernel/proc.js';
import { processNetnsInode, readCmdline } from '../../src/kernel/process-identity.js';
import { SupervisedProcess, type ProgramSpec } from '../../src/kernel/supervisor.js';
import { deleteNetnsWithProcesses, mustRun } from '../../src/lab/sim-host.js';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../unit/supervisor-child.js');
const tag = randomBytes(3).toString('hex');
const nsX = `wsup-${tag}-x`;
const nsY = `wsup-${tag}-y`;
const dir = mkdtempSync(path.join(tmpdir(), 'weft-supervisor-netns-'));

const spec = (netns: string): ProgramSpec => ({
  name: 'ns-child',
  program: process.execPath,
  packageName: 'nodejs',
  args: [CHILD, 'serve', path.join(dir, 'child.sock')],
  env: { PATH: process.env.PATH ?? '', WEFT_SUPERVISOR_CHILD: '1' },
  netns: `/run/netns/${netns}`,
  runDir: dir,
  ready: { socket: path.join(dir, 'child.sock') },
});

describe('kernel: supervised programs in network namespaces', () => {
  const procs: SupervisedProcess[] = [];

  after(async () => {
    for (const p of procs) await p.stop();
    await deleteNetnsWithProcesses([nsX, nsY]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the program itself (not nsenter) inside the given namespace', async () => {
    await mustRun('ip', ['netns', 'add', nsX]);
    await mustRun('ip', ['netns', 'add', nsY]);
    const p = new SupervisedProcess(spec(nsX));
    procs.push(p);
    const { pid } = await p.ensure();
    assert.equal(processNetnsInode(pid), netnsInode(`/run/netns/${nsX}`));
    assert.notEqual(processNetnsInode(pid), processNetnsInode(process.pid));
    assert.deepEqual(readCmdline(pid), [process.execPath, ...spec(nsX).args]);
  });

  it('adopts only a process in the expected namespace; a mismatch is left running', async () => {
    const first = procs[0]!;
    const oldPid = first.pid!;
    first.detach();
    // Same argv, same pid file, other namespace: not ours to adopt.
    const other = new SupervisedProcess(spec(nsY));
    procs.push(other);
    const { pid, adopted } = await other.ensure();
    assert.equal(adopted, false);
    assert.notEqual(pid, oldPid);
    assert.equal(isAlive(oldPid), true, 'the process in the other namespace was not signalled');
    assert.equal(processNetnsInode(pid), netnsInode(`/run/netns/${nsY}`));
    await other.stop();
    // The same spec as the first adopts the survivor.
    const again = new SupervisedProcess(spec(nsX));
    procs.push(again);
    // `other` removed the pid file on stop; restore what the first supervisor left behind.
    writeFileSync(again.pidFile, `${oldPid}\n`);
    assert.deepEqual(await again.ensure(), { pid: oldPid, adopted: true });
  });
});
