// The flows table renders a tcp flow in bytes with its goodput and handshake time; ping and UDP
// flows keep their packet counts and RTT. Server-side rendering of the component, no browser.
import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import FlowTable from '../../src/ui/components/FlowTable.svelte';
import type { FlowReport } from '../../src/sim/snapshot.ts';

const tcp: FlowReport = {
  index: 1,
  kind: 'tcp',
  from: 'h-a',
  to: 'h-c',
  sent: 1_000_000,
  received: 999_000,
  lost: 1_000,
  tcp: {
    bytes: 1_000_000,
    bytesSent: 1_000_000,
    bytesAcked: 998_000,
    bytesReceived: 999_000,
    bytesCorrupt: 0,
    setupUs: 28_448,
    completionUs: null,
    goodputBps: null,
    retransmits: 3,
    fastRetransmits: 2,
    timeouts: 1,
    clientState: 'FIN-WAIT-1',
    closeReason: null,
    finReceived: { server: false, client: false },
    complete: false,
  },
};
const ping: FlowReport = { index: 0, kind: 'ping', from: 'h-a', to: 'h-c', sent: 5, received: 5, lost: 0, rttAvgUs: 28_000 };

/** The text of the row with data-testid `id`, tags stripped, whitespace collapsed. */
function row(html: string, id: string): string {
  const at = html.indexOf(`data-testid="${id}"`);
  expect(at).toBeGreaterThan(0);
  const end = html.indexOf('</tr>', at);
  return html.slice(html.lastIndexOf('<tr', at), end).replace(/<!--[^]*?-->/g, '').replace(/<[^>]+>/g, ' ').replace(/[ \t\n]+/g, ' ').trim();
}

describe('FlowTable', () => {
  it('a tcp flow: bytes, goodput, handshake time, and acked/retransmitted in the row title', () => {
    const html = render(FlowTable, { props: { flows: [ping, tcp] } }).body;
    expect(row(html, 'flow-row-1')).toBe('1 tcp \u2013 h-a h-c 1\u2009000\u2009000 B 999\u2009000 B 1\u2009000 B 28.448 ms');
    expect(html).toContain('title="998\u2009000 B acked, 3 retransmitted, FIN-WAIT-1"');
    expect(row(html, 'flow-row-0')).toBe('0 ping h-a h-c 5 5 0 28.000 ms');
    const done = render(FlowTable, { props: { flows: [{ ...tcp, received: 1_000_000, lost: 0, tcp: { ...tcp.tcp!, completionUs: 507_202, goodputBps: 15_772_808, complete: true } }] } }).body;
    expect(row(done, 'flow-row-1')).toContain('tcp 15.77 Mb/s');
    expect(done).toContain('3 retransmitted, complete"');
  });
});
