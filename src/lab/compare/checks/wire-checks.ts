/**
 * The rows decided on the wire:
 *   encryption  a unique marker sent a→b (200 KB of it) is searched for in a tcpdump capture at
 *               the design's capture point: found → cleartext; traffic seen but no marker → encrypted
 *   partial     the underlay between a's and b's hosts is cut (cutLink: in the switch on an l2 underlay);
 *               does a still reach b (through a third host)?
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { sleep } from '../../sim-host.js';
import { cutLink } from '../measure-failure.js';
import { background, nextLine } from '../endpoint-tools.js';
import { nsEndpoint } from '../design-adapter.js';
import type { Check } from './check-context.js';
import { exchange } from './exchange.js';
import { protoSend, protoServe } from './proto-tool.js';

const SENT_BYTES = 200_000;

export const encryptionCheck: Check = async (c) => {
  const [a, b] = [c.dep.endpoints[0]!, c.dep.endpoints[1]!];
  const cp = c.dep.capturePoints[0];
  if (!cp) return { id: 'encryption', outcome: 'n-a', evidence: 'the design names no wire to capture on' };
  const marker = `weft-cmp-secret-${Math.random().toString(16).slice(2, 10)}`;
  const file = path.join(c.dir, `${c.adapter.name.replace(/[^a-z0-9]/gi, '_')}-wire.pcap`);
  const wire = nsEndpoint({ id: 'wire', host: a.host, address: '', name: 'wire' }, ['nsenter', `--net=/run/netns/${cp.ns}`]);
  // -Z root: tcpdump would drop to its own user and then fail to write into our root-owned directory.
  const cap = background(wire, ['tcpdump', '-Z', 'root', '--immediate-mode', '-U', '-n', '-i', cp.ifname, '-w', file]);
  try {
    await sleep(1000); // tcpdump opens the interface
    const port = c.port();
    const sink = background(b, protoServe('sink', 'tcp', b.address, port));
    try {
      if ((await nextLine(sink, 15_000)) !== 'listening') throw new Error(`sink did not start: ${sink.output()}`);
      const repeat = Math.ceil(SENT_BYTES / marker.length);
      const r = await a.exec(protoSend('tcp', b.address, port, marker, repeat), { timeoutMs: 20_000 });
      if (r.code !== 0)
        return { id: 'encryption', outcome: 'n-a', evidence: `could not send the marker: ${r.stderr.trim().slice(0, 160)}` };
      await nextLine(sink, 10_000); // the sink saw the end of the stream
      await sleep(500);
    } finally {
      sink.stop();
    }
  } finally {
    cap.stop();
  }
  await sleep(200);
  const size = statSync(file).size;
  const found = readFileSync(file).includes(Buffer.from(marker));
  const where = `${cp.ns}/${cp.ifname}`;
  if (found)
    return {
      id: 'encryption',
      outcome: 'no',
      evidence: `marker seen in cleartext on ${where} (${size} bytes captured for ${SENT_BYTES} sent)`,
    };
  if (size < SENT_BYTES / 2)
    return {
      id: 'encryption',
      outcome: 'n-a',
      evidence: `the flow does not cross ${where}: ${size} bytes captured for ${SENT_BYTES} sent`,
    };
  return { id: 'encryption', outcome: 'yes', evidence: `${size} bytes captured on ${where}, marker not found` };
};

export const partialCheck: Check = async (c) => {
  const [a, b] = [c.dep.endpoints[0]!, c.dep.endpoints[1]!];
  if (c.adapter.sameHost || a.host === b.host)
    return { id: 'partial', outcome: 'n-a', evidence: 'both endpoints on one host: no host network to partition' };
  if (!c.adapter.usesUnderlay) return { id: 'partial', outcome: 'n-a', evidence: 'the design does not cross the underlay (direct wire)' };
  if (c.hosts.length < 3) return { id: 'partial', outcome: 'n-a', evidence: 'needs 3 hosts (a third one to go through)' };
  const settle = c.adapter.partialSettleMs ?? 3000;
  let t: Awaited<ReturnType<typeof exchange>> | undefined;
  await cutLink({ lab: c.lab, a, b, prefix: `${c.prefix}p` }, async () => {
    await sleep(settle);
    t = await exchange(a, b, 'tcp', c.port(), 3);
  });
  return {
    id: 'partial',
    outcome: t!.outcome === 'yes' ? 'yes' : 'no',
    evidence: `underlay ${c.lab.host(a.host).address}↔${c.lab.host(b.host).address} cut for ${settle} ms (and the exchange): ${t!.evidence}`,
  };
};
