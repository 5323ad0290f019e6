/**
 * The SQLite store's schema as an ordered list of migrations. `PRAGMA user_version` holds how
 * many have been applied; a file written by a newer weft (higher version) is refused rather
 * than misread. Append new migrations; never edit an old one.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../errors.js';

export interface Migration {
  /** What the migration does, for error messages. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'initial: meta, kv, changes, locks',
    sql: `
      -- 'revision' is the global version counter: bumped once per commit that writes, and the
      -- version of every key that commit puts, so a deleted-and-recreated key never reuses
      -- an old version (same idea as etcd's mod_revision).
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('revision', 0);
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
      -- Change log read by watchers in every process. A plain INTEGER PRIMARY KEY takes
      -- max(rev) + 1, so revs only grow as long as pruning never removes the newest row (it
      -- keeps the newest N); AUTOINCREMENT would cost an extra page write per commit.
      CREATE TABLE changes (
        rev INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
        value TEXT
      );
      CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
];

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function refuseNewer(path: string, found: number): StoreError {
  return new StoreError(
    `store ${path} has schema version ${found}, newer than the ${SCHEMA_VERSION} this weft supports; upgrade weft or use another store file`,
  );
}

/**
 * Bring the database up to SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so two processes opening
 * a fresh file at once do not both migrate.
 */
export function migrate(db: Database.Database, path: string): void {
  const seen = userVersion(db);
  if (seen > SCHEMA_VERSION) throw refuseNewer(path, seen);
  if (seen === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = userVersion(db);
    if (from > SCHEMA_VERSION) throw refuseNewer(path, from);
    for (let v = from; v < SCHEMA_VERSION; v++) {
      const m = MIGRATIONS[v]!;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StoreError(`store ${path}: migration ${v + 1} (${m.name}) failed: ${String(err)}`, err);
      }
    }
    // PRAGMA cannot take a bound parameter; SCHEMA_VERSION is our own integer.
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
