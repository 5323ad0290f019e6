/**
 * Pick a Store backend from a URL (weftd's `--store`):
 *   sqlite:///var/lib/weft/weft.db   SQLite file (absolute path after the two slashes)
 *   sqlite://state/weft.db           SQLite file, relative to the working directory
 *   /var/lib/weft/weft.db, ./x.db    a plain path means SQLite too
 *   memory:                          in-process, nothing persists (tests, experiments)
 *   etcd://IP:2379[,IP:2379…]        etcd (multi-host cluster store); etcds:// for TLS,
 *   etcd+unix:///path/etcd.sock:0    or one etcd on a unix socket (see etcd-url.ts)
 */
import { InvalidArgumentError } from '../errors.js';
import { MemoryStore } from './memory-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';
import { EtcdStore } from './etcd-store.js';
import { parseEtcdUrl } from './etcd-url.js';
import type { EtcdTlsFiles } from './etcd-client.js';

export interface OpenStoreOptions {
  /** TLS files for etcd (weftd's --cluster-store-cert/key/ca). */
  tls?: EtcdTlsFiles;
  /** Key prefix inside etcd (default /weft/v1/). */
  etcdPrefix?: string;
  /** etcd: no round trip at open (see EtcdStoreOptions.lazy). */
  lazy?: boolean;
}

/** Open the store a URL or plain path names. */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
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
    case 'etcd+unix': {
      const tls = opts.tls ?? {};
      const anyTls = tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined;
      const target = parseEtcdUrl(url, anyTls && scheme !== 'etcd+unix', 'store');
      return EtcdStore.open({
        target,
        tls,
        ...(opts.etcdPrefix !== undefined ? { prefix: opts.etcdPrefix } : {}),
        ...(opts.lazy ? { lazy: true } : {}),
      });
    }
    default:
      throw new InvalidArgumentError(
        'store',
        `unknown store scheme "${scheme}:" (use sqlite://PATH, memory:, etcd://IP:PORT or a file path)`,
      );
  }
}
