/**
 * SWIM membership types: members, the updates gossiped about them, the probe messages, and
 * what the state machine asks its driver to do. Everything is plain data so it can cross the
 * wire codec and a simulated network alike.
 */

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** What one peer believes about another (or itself). */
export interface Member {
  name: string;
  /** "ip:port" of the peer's mesh port (UDP for probes, TCP for push-pull). */
  addr: string;
  /** Opaque per-run identity (Weave's peer UID): changes when the peer restarts. */
  meta: string;
  incarnation: number;
  state: MemberState;
  /** When this state was entered (driver clock, ms). */
  since: number;
}

/** A membership fact, piggybacked on probes and gossip until retransmitted enough. */
export type Update =
  | { t: 'alive'; name: string; inc: number; addr: string; meta: string }
  | { t: 'suspect'; name: string; inc: number; from: string }
  | { t: 'dead'; name: string; inc: number; from: string; left: boolean };

/** The failure-detector messages. `target` on ping guards against a restarted peer on a reused address. */
export type SwimMsg =
  | { t: 'ping'; seq: number; target: string; from: string }
  | { t: 'ack'; seq: number; from: string }
  | { t: 'ping-req'; seq: number; target: string; targetAddr: string; from: string }
  | { t: 'nack'; seq: number; from: string };

/** One datagram: an optional probe message plus piggybacked updates. */
export interface SwimPacket {
  msg?: SwimMsg;
  updates: Update[];
}

export type MemberEventType = 'join' | 'update' | 'suspect' | 'alive' | 'dead' | 'left' | 'forget';

export interface MemberEvent {
  type: MemberEventType;
  member: Member;
}

/** What the state machine wants done; the driver (router or simulator) carries it out. */
export type Output =
  | { kind: 'send'; to: string; packet: SwimPacket }
  /** Exchange full state with the member at `to` over a reliable stream (snapshot ⇄ mergeSnapshot). */
  | { kind: 'push-pull'; to: string }
  | { kind: 'event'; event: MemberEvent };

/** One row of a full-state exchange. */
export interface MemberRow {
  name: string;
  addr: string;
  meta: string;
  inc: number;
  state: MemberState;
}
