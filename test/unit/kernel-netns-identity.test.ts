/**
 * Opening namespace files from user input never blocks and refuses anything but nsfs; the
 * host's namespaces (the process's own and pid 1's) are recognised by identity. Only stat,
 * open(O_PATH) and fstat are used: nothing here changes any namespace.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostNetnsIdentities, netnsIdentityOfFd, openNsfsFile, sameNetns } from '../../src/kernel/netns-identity.js';
import { InvalidArgumentError, NotFoundError } from '../../src/errors.js';

describe('openNsfsFile', () => {
  it('refuses a FIFO without blocking, and other non-namespace files by kind', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'weft-nsid-'));
    try {
      const fifo = path.join(d, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const t0 = Date.now();
      assert.throws(
        () => openNsfsFile(fifo),
        (e: unknown) => e instanceof InvalidArgumentError && /is a FIFO/.test(e.message),
      );
      assert.ok(Date.now() - t0 < 1000, 'did not block');
      const file = path.join(d, 'f');
      writeFileSync(file, 'x');
      assert.throws(() => openNsfsFile(file), /is a regular file, not a namespace file/);
      assert.throws(() => openNsfsFile(d), /is a directory/);
      assert.throws(() => openNsfsFile('/dev/null'), /is a device/);
      assert.throws(() => openNsfsFile(path.join(d, 'missing')), NotFoundError);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('opens a namespace file and identifies it by device and inode', () => {
    const fd = openNsfsFile('/proc/self/ns/net');
    try {
      const id = netnsIdentityOfFd(fd);
      const st = statSync('/proc/self/ns/net');
      assert.deepEqual(id, { dev: st.dev, ino: st.ino });
    } finally {
      closeSync(fd);
    }
  });
});

describe('host namespaces', () => {
  it("counts the process's own namespace and pid 1's as the host's", () => {
    const ids = hostNetnsIdentities();
    const own = statSync('/proc/self/ns/net');
    assert.ok(ids.some((h) => h.id.ino === own.ino && h.id.dev === own.dev));
    assert.ok(ids.some((h) => sameNetns(h.id, { dev: own.dev, ino: own.ino }) && /host's/.test(h.what)));
    assert.ok(!ids.some((h) => sameNetns(h.id, { dev: own.dev, ino: own.ino + 1_000_000 })), 'another namespace is not the host');
    let init;
    try {
      init = statSync('/proc/1/ns/net');
    } catch {
      // In a container without ptrace rights over pid 1 its namespace cannot be named at all:
      // then it cannot be opened (so never attached) either.
      assert.throws(() => openNsfsFile('/proc/1/ns/net'), /EACCES|permission/i);
      return;
    }
    assert.ok(ids.some((h) => h.id.ino === init.ino && h.id.dev === init.dev));
    assert.ok(ids.some((h) => sameNetns(h.id, { dev: init.dev, ino: init.ino }) && /host's/.test(h.what)));
  });
});
