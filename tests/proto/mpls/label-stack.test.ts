// RFC 3032 §2.1 label stack entries and RFC 4023 §3 MPLS-in-IP: byte fixtures worked out from the RFCs.
import { describe, expect, it } from 'vitest';
import { decodeLabelStack, encodeLabelStack, IP_PROTO_MPLS_IN_IP, LABEL_STACK_DEPTH_MAX, MPLS_ERROR } from '../../../src/proto/mpls/label-stack.ts';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+|\/\/[^\n]*/g, '').match(/../g)!.map((b) => parseInt(b, 16)));

describe('MPLS label stack (RFC 3032 §2.1)', () => {
  it('MPLS-in-IP is IP protocol 137 (RFC 4023 §3)', () => {
    expect(IP_PROTO_MPLS_IN_IP).toBe(137);
  });

  it('one entry: label 16, TC 0, bottom of stack, TTL 62', () => {
    // label 0x00010 (20 bits) | TC 000 | S 1 | TTL 0x3e  ->  0000 0000 0000 0001 0000 | 000 | 1 | 0011 1110
    const fixture = hex('00 01 01 3e  45');
    const bytes = encodeLabelStack([{ label: 16, tc: 0, ttl: 62 }], Uint8Array.of(0x45));
    expect(bytes).toEqual(fixture);
    const d = decodeLabelStack(fixture);
    expect(d.ok && d.value.entries).toEqual([{ label: 16, tc: 0, ttl: 62 }]);
    expect(d.ok && [...d.value.payload]).toEqual([0x45]);
  });

  it('two entries: S only on the last; the largest label and traffic class', () => {
    // label 0xfffff | TC 111 | S 0 | TTL 255  ->  ff ff fe ff ; label 0x80000 | TC 010 | S 1 | TTL 1 -> 80 00 05 01
    const fixture = hex('ff ff fe ff  80 00 05 01');
    const entries = [
      { label: 0xfffff, tc: 7, ttl: 255 },
      { label: 0x80000, tc: 2, ttl: 1 },
    ];
    expect(encodeLabelStack(entries, new Uint8Array(0))).toEqual(fixture);
    const d = decodeLabelStack(fixture);
    expect(d.ok && d.value.entries).toEqual(entries);
    expect(d.ok && d.value.payload.length).toBe(0);
  });

  it('rejects a truncated entry and a stack without a bottom, naming the field', () => {
    const short = decodeLabelStack(hex('00 01 00 40  00 01'));
    expect(short.ok).toBe(false);
    expect(!short.ok && short.error).toMatchObject({ code: MPLS_ERROR.TRUNCATED, field: 'labelStack[1]' });
    const noBottom = new Uint8Array(4 * (LABEL_STACK_DEPTH_MAX + 1)); // every S bit clear
    const deep = decodeLabelStack(noBottom);
    expect(!deep.ok && deep.error.code).toBe(MPLS_ERROR.TOO_DEEP);
    expect(decodeLabelStack(new Uint8Array(0)).ok).toBe(false);
  });

  it('refuses to encode out-of-range fields (our bug, not a peer\'s)', () => {
    expect(() => encodeLabelStack([{ label: 0x100000, tc: 0, ttl: 1 }], new Uint8Array(0))).toThrow(/label/);
    expect(() => encodeLabelStack([{ label: 16, tc: 8, ttl: 1 }], new Uint8Array(0))).toThrow(/traffic class/);
    expect(() => encodeLabelStack([], new Uint8Array(0))).toThrow(/depth/);
  });
});
