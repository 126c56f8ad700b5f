// RFC 4364 VRFs: route distinguisher, import and export route targets, the per-VRF label, and the two
// translations a PE makes (a VRF route into VPN-IPv4, §4.3.1; a VPN-IPv4 route into a VRF). No RIB state.
//
// Labels: one per VRF (RFC 4364 §4.3.2 lets the PE choose), allocated in configuration order from 16,
// the first value RFC 3032 §2.1 does not reserve. A CE's route targets are replaced by the VRF's
// export route targets (a customer cannot steer imports); its other extended communities, the
// seed 002 Security Gateway Identity among them, are carried unchanged into VPN-IPv4.

import type { PathAttribute } from './attributes.ts';
import { attribute } from './attributes.ts';
import type { ExtendedCommunity } from './communities.ts';
import type { RouteDistinguisher } from './nlri.ts';
import type { LocalSource, RouteTarget, Table, VrfExportSource } from './rib.ts';
import { RouteAttributes, routeTargetKey, typeCodeOf } from './rib.ts';

/** RFC 3032 §2.1: labels 0-15 are reserved; VRF labels start here. */
export const VRF_LABEL_BASE = 16;

export interface VrfConfig {
  name: string;
  rd: RouteDistinguisher;
  importRouteTargets: readonly RouteTarget[];
  exportRouteTargets: readonly RouteTarget[];
}

export class Vrf {
  readonly name: string;
  readonly rd: RouteDistinguisher;
  readonly importRouteTargets: readonly RouteTarget[];
  readonly exportRouteTargets: readonly RouteTarget[];
  private readonly importKeys: ReadonlySet<string>;
  /** The source of the VPN-IPv4 routes this VRF exports. */
  readonly exportSource: VrfExportSource;
  /** The source of routes originated into this VRF. */
  readonly localSource: LocalSource;

  constructor(
    config: VrfConfig,
    /** The VPN label of every route this VRF exports. */
    readonly label: number,
    /** The VRF's own IPv4 table: CE routes, local routes and imported VPN routes. */
    readonly table: Table<'ipv4-unicast'>,
  ) {
    this.name = config.name;
    this.rd = config.rd;
    this.importRouteTargets = config.importRouteTargets;
    this.exportRouteTargets = config.exportRouteTargets;
    this.importKeys = new Set(config.importRouteTargets.map(routeTargetKey));
    this.exportSource = { kind: 'vrf-export', vrf: config.name };
    this.localSource = { kind: 'local', vrf: config.name };
  }

  /** RFC 4364 §4.3.1: a VPN-IPv4 route is imported when one of its route targets is an import route target. */
  imports(attrs: RouteAttributes): boolean {
    for (const k of attrs.routeTargetKeys) if (this.importKeys.has(k)) return true;
    return false;
  }

  /**
   * The attributes of the VPN-IPv4 route made from this VRF's best route (RFC 4364 §4.3.1): the
   * export route targets in place of any the CE sent, other extended communities kept, NEXT_HOP
   * ours (RFC 4364 §4.3.2), LOCAL_PREF our degree of preference for the VRF route.
   */
  exportAttributes(vrfRoute: RouteAttributes, localAddress: number, preference: number): RouteAttributes {
    const list: PathAttribute[] = [];
    let ext: ExtendedCommunity[] = [];
    for (const a of vrfRoute.list) {
      if (a.type === 'LOCAL_PREF' || a.type === 'ORIGINATOR_ID' || a.type === 'CLUSTER_LIST') continue;
      if (a.type === 'EXTENDED_COMMUNITIES') ext = a.value.filter((ec) => ec.type !== 'ROUTE_TARGET');
      else list.push(a);
    }
    const seen = new Set<string>();
    const rts = this.exportRouteTargets.filter((rt) => {
      const k = routeTargetKey(rt);
      return seen.has(k) ? false : (seen.add(k), true);
    });
    // RFC 7606 §7.14: an empty EXTENDED_COMMUNITIES is malformed, so none is sent without communities.
    if (rts.length + ext.length) list.push(attribute('EXTENDED_COMMUNITIES', [...rts, ...ext]));
    list.push(attribute('LOCAL_PREF', preference));
    list.sort((a, b) => typeCodeOf(a) - typeCodeOf(b));
    return new RouteAttributes(list, localAddress);
  }
}
