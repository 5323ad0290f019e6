import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.js';
import { WeftError } from '../../src/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-store-open-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const invalid = (pattern: RegExp) => (err: unknown) =>
  err instanceof WeftError && err.code === 'WEFT_INVALID_ARGUMENT' && pattern.test(err.message);

describe('openStore', () => {
  it('memory: opens a MemoryStore', async () => {
    const s = await openStore('memory:');
    assert.equal(s.backend, 'memory');
    await s.close();
  });

  it('sqlite:///absolute/path opens that file, creating its directory', async () => {
    const file = path.join(dir, 'a', 'weft.db');
    const s = await openStore(`sqlite://${file}`);
    assert.equal(s.backend, 'sqlite');
    await s.commit({ puts: [{ key: 'k', value: '1' }] });
    await s.close();
    assert.ok(fs.existsSync(file));
    const again = await openStore(file); // a plain path is SQLite too
    assert.equal((await again.get('k'))?.value, '1');
    await again.close();
  });

  it('decodes percent-escapes in sqlite URLs', async () => {
    const file = path.join(dir, 'with space', 'weft.db');
    const s = await openStore(`sqlite://${encodeURI(file)}`);
    await s.close();
    assert.ok(fs.existsSync(file));
  });

  it('etcd URLs are validated before any connection is tried', async () => {
    await assert.rejects(openStore('etcd://127.0.0.1:0'), invalid(/port "0"/));
    await assert.rejects(openStore('etcd://10.0.0.1:2379/x'), invalid(/no path/));
    await assert.rejects(openStore('etcd://127.0.0.1:2379', { tls: { cert: '/nonexistent' } }), invalid(/go together/));
  });

  for (const bad of ['', 'sqlite://', 'redis://localhost']) {
    it(`rejects ${JSON.stringify(bad)}`, async () => assert.rejects(openStore(bad), invalid(/store/)));
  }
});
