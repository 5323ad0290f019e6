/**
 * Pick a Store backend from a URL (weftd's `--store`):
 *   sqlite:///var/lib/weft/weft.db   SQLite file (absolute path after the two slashes)
 *   sqlite://state/weft.db           SQLite file, relative to the working directory
 *   /var/lib/weft/weft.db, ./x.db    a plain path means SQLite too
 *   memory:                          in-process, nothing persists (tests, experiments)
 *   etcd://host:2379[,host2:2379]    multi-host (not implemented yet)
 */
import { InvalidArgumentError, WeftError } from '../errors.js';
import { MemoryStore } from './memory-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** Open the store a URL or plain path names. */
export async function openStore(url: string): Promise<Store> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      if (url === '') throw new InvalidArgumentError('store', 'empty store URL');
      return SqliteStore.open(url);
    case 'sqlite': {
      const rest = url.slice('sqlite:'.length);
      let file: string;
      try {
        file = decodeURIComponent(rest.startsWith('//') ? rest.slice(2) : rest);
      } catch {
        throw new InvalidArgumentError('store', `malformed percent-encoding in "${url}"`);
      }
      if (file === '') throw new InvalidArgumentError('store', `no file path in "${url}"`);
      return SqliteStore.open(file);
    }
    case 'memory':
      return new MemoryStore();
    case 'etcd':
    case 'etcds':
      // The etcd backend (leases for locks, watch streams) plugs in here.
      throw new WeftError('WEFT_INVALID_ARGUMENT', 'etcd backend not available yet', { field: 'store' });
    default:
      throw new InvalidArgumentError('store', `unknown store scheme "${scheme}:" (use sqlite://PATH, memory: or a file path)`);
  }
}
