import { describe, it, expect } from 'vitest';
import { AssertionError } from '../../../src/lib/errors.ts';
import { TCP_EVENT, TCP_STATE, TCP_TRANSITIONS, tcpAcceptsSend, tcpAcceptsText, tcpIsSynchronized, tcpTransition, type TcpState } from '../../../src/proto/ip/tcp-state.ts';

const S = TCP_STATE;
const E = TCP_EVENT;

describe('the TCP state table (RFC 9293 Figure 5)', () => {
  it('walks the paths of the figure', () => {
    const walk = (from: TcpState, events: Array<(typeof E)[keyof typeof E]>): TcpState[] => {
      const out: TcpState[] = [];
      let s = from;
      for (const e of events) out.push((s = tcpTransition(s, e)));
      return out;
    };
    expect(walk(S.SYN_SENT, [E.RCV_SYN_ACK, E.CLOSE, E.FIN_ACKED, E.RCV_FIN, E.TIME_WAIT_EXPIRED])).toEqual([S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT, S.CLOSED]);
    expect(walk(S.SYN_RECEIVED, [E.SYN_ACKED, E.RCV_FIN, E.CLOSE, E.FIN_ACKED])).toEqual([S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, S.CLOSED]);
    expect(walk(S.SYN_SENT, [E.RCV_SYN, E.SYN_ACKED, E.CLOSE, E.RCV_FIN, E.FIN_ACKED])).toEqual([S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSING, S.TIME_WAIT]);
  });

  it('every state has a row and CLOSED is terminal', () => {
    expect(Object.keys(TCP_TRANSITIONS).sort()).toEqual(Object.values(S).sort());
    expect(TCP_TRANSITIONS[S.CLOSED]).toEqual({});
    for (const row of Object.values(TCP_TRANSITIONS)) for (const next of Object.values(row)) expect(Object.values(S)).toContain(next);
  });

  it('a missing row is our bug: it asserts', () => {
    expect(() => tcpTransition(S.TIME_WAIT, E.CLOSE)).toThrow(AssertionError);
    expect(() => tcpTransition(S.CLOSED, E.RCV_FIN)).toThrow(AssertionError);
  });

  it('classifies states', () => {
    expect(Object.values(S).filter(tcpIsSynchronized)).toEqual([S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT]);
    expect(Object.values(S).filter(tcpAcceptsText)).toEqual([S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2]);
    expect(Object.values(S).filter(tcpAcceptsSend)).toEqual([S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT]);
  });
});
