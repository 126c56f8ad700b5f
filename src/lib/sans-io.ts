// The one contract shared by every protocol core and every node (DESIGN.md "Rules").
// Owns only types; never imports anything with I/O, clocks or randomness.

/**
 * A sans-IO state machine. The caller owns the clock and the I/O:
 * - `handle(input, nowUs)` feeds one input at virtual time `nowUs` (integer microseconds);
 * - `poll()` hands back the next output until it returns `undefined`;
 * - `nextDeadlineUs()` says when the machine wants `handle({ kind: 'timer' }, t)` at the latest.
 */
export interface SansIo<I, O> {
  handle(input: I, nowUs: number): void;
  poll(): O | undefined;
  nextDeadlineUs(): number | undefined;
}

/** Inputs every node understands. */
export type NodeInput =
  | { kind: 'rx'; ifIndex: number; bytes: Uint8Array }
  | { kind: 'timer' }
  | { kind: 'command'; command: NodeCommand };

/** Operator commands a node accepts (grows with the protocol cores). */
export type NodeCommand =
  | { kind: 'interface-up'; ifIndex: number; up: boolean }
  | { kind: 'crash' }
  | { kind: 'restart' }
  /**
   * Starts a ping at run time (a console's `ping`): `count` ICMP echo requests of `sizeBytes` data
   * every `intervalUs`, from the address of the interface toward `dst` (dotted quad). Its results
   * are a run-time flow in the node's snapshot, apart from the configured flows.
   */
  | { kind: 'ping'; dst: string; count: number; sizeBytes: number; intervalUs: number }
  /** Traces the path to `dst`: UDP probes with TTL 1..`maxHops` to ports 33434 and up (a run-time flow too). */
  | { kind: 'traceroute'; dst: string; maxHops: number }
  /**
   * Resets BGP sessions (`clear bgp`): every one, or the neighbour named (its name or address). Sends
   * a Cease NOTIFICATION, Administrative Reset (RFC 4486 §4 subcode 4), and starts the session again.
   */
  | { kind: 'clear-bgp'; neighbor?: string };

/** Outputs every node produces. */
export type NodeOutput =
  | { kind: 'tx'; ifIndex: number; bytes: Uint8Array }
  | { kind: 'log'; topic: string; text: string };

export type NodeCore = SansIo<NodeInput, NodeOutput>;
