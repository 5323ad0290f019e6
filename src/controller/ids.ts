import { randomBytes } from 'node:crypto';

/** 64 hex characters, like Docker's ids. */
export const newId = (): string => randomBytes(32).toString('hex');

export const now = (): string => new Date().toISOString();
