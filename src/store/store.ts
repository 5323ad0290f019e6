/**
 * One Store interface for every backend (SQLite now, etcd for multi-host, memory for unit
 * tests): a versioned key-value space with atomic multi-key compare-and-set, prefix listing,
 * watches and named cross-process locks. Values are JSON strings.
 */

export interface KvEntry {
  key: string;
  value: string;
  /**
   * Per-key modification counter, > 0. A key that does not exist has version 0. Backends use
   * a store-wide revision (the commit that last wrote the key), so a key's version only grows,
   * even across delete and re-create.
   */
  version: number;
}

/** Precondition of a commit: `key` must currently have exactly `version` (0 = must be absent). */
export interface KvCheck {
  key: string;
  version: number;
}

export interface KvCommit {
  checks?: KvCheck[];
  puts?: { key: string; value: string }[];
  deletes?: string[];
}

export interface KvEvent {
  type: 'put' | 'delete';
  key: string;
  value?: string;
}

export interface Store {
  readonly backend: string;
  get(key: string): Promise<KvEntry | undefined>;
  /** Every entry whose key starts with prefix, sorted by key. */
  list(prefix: string): Promise<KvEntry[]>;
  /**
   * Apply puts and deletes atomically if every check holds. Returns false (and changes
   * nothing) when a check fails. A key may appear at most once among puts and deletes
   * (InvalidArgumentError otherwise); deleting a missing key is not an error.
   */
  commit(c: KvCommit): Promise<boolean>;
  /**
   * Watch keys under prefix; events arrive after they commit (possibly from other processes),
   * asynchronously and in commit order. Returns the function that stops the watch.
   */
  watch(prefix: string, onEvent: (e: KvEvent) => void): () => void;
  /**
   * Run fn while holding a named lock that excludes other holders in this and other
   * processes sharing the store. ttlMs bounds how long a crashed holder can block others;
   * timeoutMs bounds the wait (TimeoutError), not fn. Not re-entrant: nesting the same name
   * waits for itself until timeoutMs.
   */
  withLock<T>(name: string, fn: () => Promise<T>, opts?: { timeoutMs?: number; ttlMs?: number }): Promise<T>;
  close(): Promise<void>;
}
