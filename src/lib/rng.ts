// Seeded random streams (PCG32, O'Neill 2014): one seed drives a run; stream k is independent of
// every other, so adding a consumer shifts nobody else's numbers. Never uses Math.random().

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextU32(): number;
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  nextFloat(): number;
  /** Uniform integer in [0, n) for 0 < n <= 2^32, without modulo bias. */
  nextInt(n: number): number;
}

const MASK64 = (1n << 64n) - 1n;
const PCG_MULT = 6364136223846793005n;

/** PCG-XSH-RR 64/32 with a selectable stream (the increment). */
export class Pcg32 implements Rng {
  private state = 0n;
  private readonly inc: bigint;

  constructor(seed: bigint | number, stream: bigint | number = 0) {
    this.inc = ((BigInt(stream) << 1n) | 1n) & MASK64;
    this.step();
    this.state = (this.state + (BigInt(seed) & MASK64)) & MASK64;
    this.step();
  }

  private step(): void {
    this.state = (this.state * PCG_MULT + this.inc) & MASK64;
  }

  nextU32(): number {
    const old = this.state;
    this.step();
    const xorshifted = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xorshifted >>> rot) | (xorshifted << (-rot & 31))) >>> 0;
  }

  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  nextInt(n: number): number {
    if (!(n > 0 && n <= 4294967296 && Number.isInteger(n))) throw new RangeError(`nextInt: bad bound ${n}`);
    // Lemire-style rejection on the 32-bit space.
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }
}

/** Well-known stream indices; a new consumer takes a new number and shifts nobody. */
export const RNG_STREAM = {
  /** Link direction d uses stream LINK_BASE + d. */
  LINK_BASE: 1_000,
  /** Traffic flow i (its topology index) uses stream TRAFFIC_BASE + i (a tcp flow's ephemeral source port). */
  TRAFFIC_BASE: 500_000,
  /** Node i's consumer k (NODE_TCP, NODE_BGP, …) uses stream NODE_BASE + NODE_STRIDE·i + k. */
  NODE_BASE: 1_000_000,
  NODE_STRIDE: 16,
  NODE_TCP: 0,
  NODE_BGP: 1,
  NODE_IKE: 2,
  NODE_GKM: 3,
  /** Long-term group credentials (seed 001): a member's PSK, the GCKS's Ed25519 key (sim/group-plan.ts). */
  NODE_GKM_CREDENTIAL: 4,
} as const;

/** The stream of consumer `k` on node `index`. */
export const nodeStream = (index: number, k: number): number => RNG_STREAM.NODE_BASE + RNG_STREAM.NODE_STRIDE * index + k;

export function rngFor(seed: number, stream: number): Rng {
  return new Pcg32(BigInt(seed), BigInt(stream));
}
