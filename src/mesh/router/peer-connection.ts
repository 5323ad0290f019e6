/**
 * One control connection to another peer over TCP: the authenticated handshake first, then
 * sealed, length-prefixed control messages. It also carries the per-connection data-plane
 * state: our session index (what the peer puts in UDP headers to reach this session), the
 * peer's, the datagram cipher, and when the last UDP heartbeat arrived.
 */
import type { Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { DatagramCipher, StreamCipher } from '../crypto/ciphers.js';
import { Handshake, type Hello } from '../crypto/handshake.js';
import { decodeControl, encodeControl, type ControlMsg } from '../wire/control.js';
import { encodeFrame, FrameReader } from '../wire/frames.js';

export interface ConnectionHooks {
  ready(c: PeerConnection): void;
  message(c: PeerConnection, m: ControlMsg): void;
  closed(c: PeerConnection, reason: string): void;
}

export interface ConnectionOptions {
  initiator: boolean;
  name: string;
  uid: string;
  port: number;
  psk: Buffer | undefined;
  handshakeTimeoutMs: number;
  hooks: ConnectionHooks;
}

type Phase = 'hello' | 'confirm' | 'open' | 'closed';

export class PeerConnection {
  readonly initiator: boolean;
  readonly remoteIp: string;
  readonly localIdx = randomInt(1, 0xffffffff);
  readonly createdAt = Date.now();
  peer: Hello | undefined;
  peerIdx: number | undefined;
  data: DatagramCipher | undefined;
  encrypted = false;
  lastBeatRx = 0;
  /** When the handshake completed (0 before). */
  openedAt = 0;
  bytesOut = 0;
  bytesIn = 0;
  private phase: Phase = 'hello';
  private readonly hs: Handshake;
  private stream: StreamCipher | undefined;
  private readonly reader = new FrameReader();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly socket: Socket,
    private readonly o: ConnectionOptions,
  ) {
    this.initiator = o.initiator;
    this.remoteIp = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.hs = new Handshake({ initiator: o.initiator, name: o.name, uid: o.uid, port: o.port, psk: o.psk });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket: ${err.message}`));
    socket.on('close', () => this.close('closed by peer'));
    this.timer = setTimeout(() => this.close('handshake timed out'), o.handshakeTimeoutMs);
    this.write(this.hs.hello());
  }

  get open(): boolean {
    return this.phase === 'open';
  }

  /** The peer's UDP endpoint: the address it connected from/to, its announced mesh port. */
  get udpPort(): number {
    return this.peer?.port ?? 0;
  }

  private write(payload: Buffer): void {
    const f = encodeFrame(payload);
    this.bytesOut += f.length;
    this.socket.write(f);
  }

  send(m: ControlMsg): void {
    if (this.phase !== 'open') return;
    const plain = encodeControl(m);
    this.write(this.stream ? this.stream.seal(plain) : plain);
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    try {
      for (const f of this.reader.push(chunk)) {
        if (this.phase === 'closed') return;
        this.onFrame(f);
      }
    } catch (err) {
      this.close(err instanceof Error ? err.message : String(err));
    }
  }

  private onFrame(f: Buffer): void {
    switch (this.phase) {
      case 'hello':
        this.peer = this.hs.receiveHello(f);
        this.phase = 'confirm';
        this.write(this.hs.confirm());
        return;
      case 'confirm': {
        const keys = this.hs.receiveConfirm(f);
        clearTimeout(this.timer);
        this.encrypted = keys.encrypted;
        if (keys.encrypted) {
          this.stream = new StreamCipher(keys.controlTx, keys.controlRx);
          this.data = new DatagramCipher(keys.dataTx, keys.dataRx);
        }
        this.phase = 'open';
        this.openedAt = Date.now();
        this.o.hooks.ready(this);
        return;
      }
      case 'open': {
        const m = decodeControl(this.stream ? this.stream.open(f) : f);
        this.o.hooks.message(this, m);
        return;
      }
      case 'closed':
        return;
    }
  }

  close(reason: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    clearTimeout(this.timer);
    this.socket.destroy();
    this.o.hooks.closed(this, wasOpen ? reason : `refused: ${reason}`);
  }
}
