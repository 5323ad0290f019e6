/**
 * The announcement frames byte by byte: a gratuitous ARP request (RFC 5227 §3) and an
 * unsolicited neighbour advertisement (RFC 4861 §7.2.6) whose ICMPv6 checksum verifies.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { announcementFrame, internetChecksum } from '../../src/kernel/neighbour-announce.js';
import { WeftError } from '../../src/errors.js';

const BRIDGE = '02:00:00:00:00:01';
const OWNER = '02:42:0a:32:00:4d';
const hex = (b: Buffer): string => b.toString('hex');

describe('neighbour announcements', () => {
  it('IPv4: a broadcast gratuitous ARP request, sender = target = the address, at the owner MAC, sent from the bridge', () => {
    const f = announcementFrame(BRIDGE, { ip: '10.50.0.77', mac: OWNER });
    assert.equal(f.length, 60, 'padded to the Ethernet minimum');
    assert.equal(hex(f.subarray(0, 6)), 'ffffffffffff');
    assert.equal(hex(f.subarray(6, 12)), '020000000001', 'Ethernet source: the sending link');
    assert.equal(f.readUInt16BE(12), 0x0806);
    assert.equal(hex(f.subarray(14, 22)), '0001080006040001', 'Ethernet/IPv4, request');
    assert.equal(hex(f.subarray(22, 28)), '02420a32004d', 'sender MAC: the owner');
    assert.equal(hex(f.subarray(28, 32)), '0a32004d', 'sender address');
    assert.equal(hex(f.subarray(32, 38)), '000000000000', 'target MAC unknown');
    assert.equal(hex(f.subarray(38, 42)), '0a32004d', 'target address = sender address');
  });

  it('IPv6: an unsolicited NA to all nodes, hop limit 255, override set, solicited clear, with the target link-layer option', () => {
    const f = announcementFrame(BRIDGE, { ip: 'fd00:50::4d', mac: OWNER });
    assert.equal(hex(f.subarray(0, 6)), '333300000001', 'Ethernet multicast of ff02::1');
    assert.equal(f.readUInt16BE(12), 0x86dd);
    const ip6 = f.subarray(14, 54);
    assert.equal(ip6.readUInt8(0) >> 4, 6);
    assert.equal(ip6.readUInt16BE(4), 32, 'payload: NA (24) + option (8)');
    assert.equal(ip6.readUInt8(6), 58, 'ICMPv6');
    assert.equal(ip6.readUInt8(7), 255, 'hop limit');
    assert.equal(hex(ip6.subarray(8, 24)), 'fd00005000000000000000000000004d', 'source: the address itself');
    assert.equal(hex(ip6.subarray(24, 40)), 'ff020000000000000000000000000001');
    const icmp = f.subarray(54);
    assert.equal(icmp.readUInt8(0), 136, 'neighbour advertisement');
    assert.equal(icmp.readUInt8(4), 0x20, 'override only');
    assert.equal(hex(icmp.subarray(8, 24)), hex(ip6.subarray(8, 24)), 'target = the address');
    assert.equal(hex(icmp.subarray(24, 32)), '020102420a32004d', 'target link-layer address option (type 2, 8 bytes)');
    // The checksum over the pseudo-header and the message sums to 0xffff, i.e. verifies to 0.
    const pseudo = Buffer.alloc(40);
    ip6.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(icmp.length, 32);
    pseudo.writeUInt8(58, 39);
    assert.equal(internetChecksum([pseudo, icmp]), 0);
  });

  it('the checksum matches RFC 1071’s worked example and pads an odd length with zero', () => {
    // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, the checksum is its complement.
    assert.equal(internetChecksum([Buffer.from('0001f203f4f5f6f7', 'hex')]), ~0xddf2 & 0xffff);
    assert.equal(internetChecksum([Buffer.from('01', 'hex')]), internetChecksum([Buffer.from('0100', 'hex')]));
  });

  it('refuses a bad MAC or address with a typed error, before anything is sent', () => {
    assert.throws(() => announcementFrame(BRIDGE, { ip: '10.50.0.77', mac: 'nope' }), WeftError);
    assert.throws(() => announcementFrame(BRIDGE, { ip: '10.50.0', mac: OWNER }), WeftError);
  });
});
