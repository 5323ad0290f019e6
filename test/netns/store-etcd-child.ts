/**
 * Child for the etcd store tests, run with `nsenter --net` inside etcd's namespace (TCP to
 * 127.0.0.1 there). Prints one JSON line; exit 1 with the error's code on failure.
 *   roundtrip URL CA [CERT KEY]   open with TLS files, put and get one key, close
 */
import { randomBytes } from 'node:crypto';
import { openStore } from '../../src/store/open-store.js';
import { asWeftError } from '../../src/errors.js';

async function main([mode, url, ca, cert, key]: string[]): Promise<void> {
  if (mode !== 'roundtrip' || !url || !ca) throw new Error('usage: roundtrip URL CA [CERT KEY]');
  const s = await openStore(url, {
    tls: { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}) },
    etcdPrefix: `/weft-test/${randomBytes(4).toString('hex')}/`,
  });
  try {
    await s.commit({ puts: [{ key: 'k', value: '"tls-ok"' }] });
    process.stdout.write(JSON.stringify(await s.get('k')) + '\n');
  } finally {
    await s.close();
  }
}

if (process.argv[1]?.endsWith('store-etcd-child.js')) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const e = asWeftError(err);
    process.stdout.write(JSON.stringify({ code: e.code, message: e.message }) + '\n');
    process.exit(1);
  });
}
