/**
 * nftables transactions inside this process through libnftables — the library the `nft` command
 * is a thin front end to (Debian ships it with nft: libnftables1). The same parser, the same
 * one-batch-per-script atomicity as `nft -f -`, without a fork+exec of nft and its dynamic
 * loading per change: a few ms of CPU on an idle machine, but tens to hundreds of ms of waiting
 * for a CPU on a loaded one, paid on every host for every policy change.
 *
 * Only for the calling process's own network namespace: libnftables opens its netlink socket
 * (and re-opens it after an interrupted dump) in the namespace of the thread that runs it, and
 * the calls run on koffi's worker threads, which stay in the process's namespace (weft switches
 * namespaces only on its netns worker thread). Callers acting in another namespace keep
 * `nsenter … nft` (src/kernel/nft.ts).
 *
 * One call at a time for the whole process (libnftables keeps some global state).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';

export interface NftRunResult {
  ok: boolean;
  /** What nft would have printed on stderr. */
  error: string;
}

interface Binding {
  ctxNew: (flags: number) => unknown;
  ctxFree: (ctx: unknown) => void;
  bufferError: (ctx: unknown) => number;
  runFile: { async(ctx: unknown, file: string, cb: (err: unknown, res: number) => void): void };
  errorBuffer: (ctx: unknown) => string | null;
}

/** nft_ctx_new's flags (nftables.h). */
const NFT_CTX_DEFAULT = 0;

/** Where scripts are written for nft to read: memory-backed when there is /dev/shm. */
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

let binding: Binding | undefined;
let loadError: string | undefined;
let queue: Promise<unknown> = Promise.resolve();

function load(): Binding | undefined {
  if (binding || loadError !== undefined) return binding;
  try {
    const lib = koffi.load('libnftables.so.1');
    binding = {
      ctxNew: lib.func('void *nft_ctx_new(uint32_t flags)') as Binding['ctxNew'],
      ctxFree: lib.func('void nft_ctx_free(void *ctx)') as Binding['ctxFree'],
      bufferError: lib.func('int nft_ctx_buffer_error(void *ctx)') as Binding['bufferError'],
      runFile: lib.func('int nft_run_cmd_from_filename(void *nft, const char *filename)') as Binding['runFile'],
      errorBuffer: lib.func('const char *nft_ctx_get_error_buffer(void *ctx)') as Binding['errorBuffer'],
    };
  } catch (err) {
    // Not fatal: the caller falls back to running nft; the reason is kept for it to report.
    loadError = err instanceof Error ? err.message : String(err);
  }
  return binding;
}

/** Why libnftables cannot be used here (undefined when it can, or before the first try). */
export function libnftablesUnavailable(): string | undefined {
  load();
  return loadError;
}

/** Whether in-process transactions are available (loads the library on first call). */
export function haveLibnftables(): boolean {
  return load() !== undefined;
}

/**
 * Run one nft script (one transaction) in this process's namespace, off the event loop.
 * Throws only when libnftables is not available (check haveLibnftables() first).
 */
export function runNftScript(script: string): Promise<NftRunResult> {
  const b = load();
  if (!b) return Promise.reject(new Error(`libnftables is not available: ${loadError ?? 'not loaded'}`));
  const next = queue.then(
    () =>
      new Promise<NftRunResult>((resolve, reject) => {
        // From a file, as `nft -f` reads it: from a buffer, nft 1.0.6 blames the first line of a
        // multi-line script for an error the kernel reports on a later one.
        const file = path.join(SCRATCH, `weft-nft-${process.pid}-${randomBytes(6).toString('hex')}.nft`);
        writeFileSync(file, script, { flag: 'wx', mode: 0o600 });
        const done = (fn: () => void): void => {
          try {
            unlinkSync(file);
          } catch (err) {
            // A leftover scratch file is not the transaction's outcome; it is reported, not hidden.
            process.emitWarning(`cannot remove ${file}: ${String(err)}`, { code: 'WEFT_NFT_SCRATCH' });
          }
          fn();
        };
        // A fresh context per script, as a new `nft` process has (its cache is nft's to keep).
        const ctx = b.ctxNew(NFT_CTX_DEFAULT);
        if (ctx === null) return done(() => reject(new Error('nft_ctx_new returned NULL')));
        if (b.bufferError(ctx) !== 0) {
          b.ctxFree(ctx);
          return done(() => reject(new Error('nft_ctx_buffer_error failed')));
        }
        b.runFile.async(ctx, file, (err: unknown, rc) => {
          // The error buffer is read once the call is over, on this thread, then the context goes.
          const error = err ? '' : (b.errorBuffer(ctx) ?? '').split(file).join('script');
          b.ctxFree(ctx);
          const failed = err instanceof Error ? err : err ? new Error(`libnftables call failed: ${JSON.stringify(err)}`) : undefined;
          done(() => (failed ? reject(failed) : resolve({ ok: rc === 0, error })));
        });
      }),
  );
  // The queue only orders calls; each caller gets its own outcome through `next`.
  queue = next.then(
    () => undefined,
    // eslint-disable-next-line no-restricted-syntax -- the error reaches the caller through `next`
    () => undefined,
  );
  return next;
}
