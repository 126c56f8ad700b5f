// How each node role is named and coloured on the page (drawing, legend, node list).
// Presentation only.
import type { Role } from '../sim/topology/types.ts';

export interface RoleStyle {
  /** Short tag drawn inside the shape. */
  tag: string;
  /** Name in the legend. */
  name: string;
  /** Name in the node list. */
  short: string;
  /** CSS colour (a custom property from app.css). */
  color: string;
}

export const ROLE_STYLES: Record<Role, RoleStyle> = {
  host: { tag: 'H', name: 'host', short: 'host', color: 'var(--role-host)' },
  ce: { tag: 'CE', name: 'CE', short: 'CE', color: 'var(--role-ce)' },
  pe: { tag: 'PE', name: 'PE', short: 'PE', color: 'var(--role-pe)' },
  p: { tag: 'P', name: 'P', short: 'P', color: 'var(--role-p)' },
  sr: { tag: 'S/R', name: 'S/R device', short: 'S/R', color: 'var(--role-sr)' },
};
