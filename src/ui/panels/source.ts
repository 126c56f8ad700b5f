// What the inspecting panels need from the page's session: the latest topology and snapshot, and the
// Lab API calls they forward to (captures, node commands, link state). LabSession satisfies it; the
// two optional calls light up the event list, the tap and the console's acting commands.
import type { NodeCommand } from '../../lib/sans-io.ts';
import type { LabSnapshot } from '../../sim/snapshot.ts';
import type { Topology } from '../../sim/topology/types.ts';

export interface WorkbenchSession {
  readonly topology: Topology | undefined;
  readonly snapshot: LabSnapshot | undefined;
  readonly ready: boolean;
  readonly playing: boolean;
  setLinkUp(linkIndex: number, up: boolean): Promise<void>;
  /** lab.pcap(linkIndex), queued with the session's other calls. */
  pcap?(linkIndex: number): Promise<Uint8Array>;
  /** lab.command(nodeIndex, command), then a fresh snapshot. */
  command?(nodeIndex: number, command: NodeCommand): Promise<void>;
}
