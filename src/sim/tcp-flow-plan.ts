// Which nodes run tcp flows: the client of every tcp flow a node sources, and a sink server on the
// ports of the flows that target it (by node id, or by an address it holds: with overlapping
// customers every holder listens and the flow's stream header says which flow arrived). Pure.

import type { IpNode } from '../node/ip-node.ts';
import type { TcpApp } from '../node/tcp-app.ts';
import { TcpFlowApp } from '../node/tcp-flow-app.ts';
import type { TcpFlowConfig } from '../node/types.ts';
import { IPV4_PATTERN } from './topology/schema.ts';
import { linkEnds } from './topology/link-ends.ts';
import type { Topology } from './topology/types.ts';

export interface TcpFlowPlan {
  clients: TcpFlowConfig[];
  /** Ports to sink flows on, ascending. */
  serverPorts: number[];
}

/** The tcp flows of node `nodeIndex`; undefined when it has none (then it needs no TcpApp for them). */
export function tcpFlowPlan(topology: Topology, nodeIndex: number): TcpFlowPlan | undefined {
  const node = topology.nodes[nodeIndex]!;
  const owns = (addr: number): boolean => addr === node.loopback || linkEnds(topology, nodeIndex).some((e) => e.mine.addr === addr);
  const clients: TcpFlowConfig[] = [];
  const ports = new Set<number>();
  for (const t of topology.traffic) {
    if (t.kind !== 'tcp') continue;
    if (t.from === node.id) {
      const { from: _from, toLabel: _label, ...flow } = t;
      clients.push(flow);
    }
    const target = IPV4_PATTERN.test(t.toLabel) ? owns(t.to) : t.toLabel === node.id;
    if (target) ports.add(t.dstPort);
  }
  if (clients.length === 0 && ports.size === 0) return undefined;
  return { clients, serverPorts: [...ports].sort((a, b) => a - b) };
}

/** The app that runs `plan` on `node` over its TcpApp. */
export function tcpFlowApp(node: IpNode, tcp: TcpApp, plan: TcpFlowPlan): TcpFlowApp {
  const sourceFor = (dst: number): number | undefined => {
    const r = node.lookup(dst);
    return r ? node.config.interfaces[r.ifIndex]?.addr : undefined;
  };
  return new TcpFlowApp(node, tcp, plan.clients, plan.serverPorts, sourceFor);
}
