/**
 * Docker's plugin error shapes, applied only at this edge: the network driver protocol reads
 * `Err`, the IPAM protocol reads `Error`. Both are sent with a non-200 status, where Docker's
 * plugin client takes the message from `Err`, so IPAM replies carry both fields.
 */
import { asWeftError, type WeftError } from '../../errors.js';

export type PluginApi = 'network' | 'ipam' | 'plugin';

export interface PluginErrorReply {
  status: number;
  body: { Err: string; Error?: string };
}

/** Turn anything thrown by a handler into the body Docker expects for that API. */
export function pluginError(api: PluginApi, err: unknown): PluginErrorReply {
  const e: WeftError = asWeftError(err);
  const msg = e.code === 'WEFT_INTERNAL' ? e.message : `${e.message} [${e.code}]`;
  return { status: 500, body: api === 'ipam' ? { Err: msg, Error: msg } : { Err: msg } };
}
