/**
 * CNI's error shape and well-known codes, and the translation from weft's typed errors. This
 * is the only place a WeftError becomes a CNI error. Pure.
 */
import { asWeftError, type ErrorCode } from '../../errors.js';

/** Well-known codes of the CNI spec (0-99 are reserved for these). */
export const CNI_CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  pluginNotAvailableDisrupted: 51,
} as const;

/** Plugin-specific codes (100+), one per weft error family. */
export const WEFT_CNI_CODES: Partial<Record<ErrorCode, number>> = {
  WEFT_CONFLICT: 100,
  WEFT_IN_USE: 100,
  WEFT_IPAM_EXHAUSTED: 101,
  WEFT_IPAM_ADDRESS_IN_USE: 102,
  WEFT_IPAM_OVERLAP: 103,
  WEFT_KERNEL: 104,
  WEFT_KERNEL_UNSUPPORTED: 105,
  WEFT_FIREWALL: 106,
  WEFT_PERMISSION: 107,
  WEFT_INTERNAL: 999,
};

/** An error a CNI verb returns: printed as JSON on stdout with a non-zero exit. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details?: string,
  ) {
    super(details ? `${msg}: ${details}` : msg);
    this.name = 'CniError';
  }
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return this.details === undefined
      ? { cniVersion, code: this.code, msg: this.msg }
      : { cniVersion, code: this.code, msg: this.msg, details: this.details };
  }
}

/** Translate anything thrown into a CniError; `details` keeps weft's code for debugging. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const e = asWeftError(err);
  let code: number;
  switch (e.code) {
    case 'WEFT_INVALID_ARGUMENT':
      code = CNI_CODES.invalidConfig;
      break;
    case 'WEFT_NOT_FOUND':
      code = CNI_CODES.unknownContainer;
      break;
    case 'WEFT_STORE':
    case 'WEFT_STORE_CONFLICT':
    case 'WEFT_STORE_UNAVAILABLE':
    case 'WEFT_TIMEOUT':
      code = CNI_CODES.tryAgainLater;
      break;
    default:
      code = WEFT_CNI_CODES[e.code] ?? 999;
  }
  return new CniError(code, e.message, e.code);
}
