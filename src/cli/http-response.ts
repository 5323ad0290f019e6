/**
 * Parse one complete HTTP/1.1 response read until the server closed the connection: status,
 * headers, and the body (Content-Length, chunked, or everything up to the close). Pure.
 */
import { WeftError } from '../errors.js';

export interface HttpResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

const malformed = (why: string): WeftError => new WeftError('WEFT_INTERNAL', `weftd sent a malformed HTTP reply: ${why}`);

export function parseHttpResponse(raw: Buffer): HttpResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw malformed(raw.length === 0 ? 'empty reply' : 'no end of headers');
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw malformed(`bad status line "${(lines[0] ?? '').slice(0, 40)}"`);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  let body = raw.subarray(end + 4);
  if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  else if (headers.has('content-length')) {
    const n = Number(headers.get('content-length'));
    if (!Number.isInteger(n) || n < 0 || n > body.length)
      throw malformed(`content-length ${headers.get('content-length')} but ${body.length} bytes`);
    body = body.subarray(0, n);
  }
  return { status: Number(m[1]), headers, body };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let pos = 0; ;) {
    const eol = b.indexOf('\r\n', pos);
    if (eol < 0) throw malformed('truncated chunk header');
    const size = parseInt(b.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size) || size < 0) throw malformed('bad chunk size');
    if (size === 0) return Buffer.concat(out);
    if (eol + 2 + size > b.length) throw malformed('truncated chunk');
    out.push(b.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}
