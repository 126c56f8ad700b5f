// The topology FILE format: what a person writes (YAML or JSON), as a zod schema with defaults.
// The loader (load.ts) validates a file against it, checks cross-references and resolves it into
// the plain `Topology` of types.ts. Every error message here reads `expected ..., got ...`.
//
// Values that carry units stay text in the file ("2ms", "100Mbps", "1%"); the exact converters
// below turn them into integer microseconds, bits per second and a 0..1 probability.

import { z } from 'zod';
import { MODES, PE_AUTH_ALGORITHMS, PE_AUTH_KEY_BYTES_MAX, PE_AUTH_KINDS, ROLES } from './types.ts';
import { TCP_FLOW_BYTES_MAX, TCP_FLOW_HEADER_BYTES } from '../../node/tcp-flow-app.ts';

// ---------------------------------------------------------------------------------------------
// Patterns and exact unit converters

export const ID_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const DURATION_PATTERN = /^(\d+)(?:\.(\d+))?(us|ms|s)$/;
export const RATE_PATTERN = /^(\d+)(?:\.(\d+))?(bps|kbps|Mbps|Gbps)$/;
export const PERCENT_PATTERN = /^(\d+(?:\.\d+)?)%$/;
/** A byte count: number + unit B, kB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024). */
export const SIZE_PATTERN = /^(\d+)(?:\.(\d+))?(B|kB|MB|GB|KiB|MiB|GiB)$/;
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const PREFIX_LEN = '(?:3[0-2]|[12]?\\d)';
export const IPV4_PATTERN = new RegExp(`^${IPV4}$`);
/** `a.b.c.d/len`: an interface address (host bits kept) or a prefix (host bits zero). */
export const IPV4_SLASH_PATTERN = new RegExp(`^${IPV4}/${PREFIX_LEN}$`);
/** Route target / route distinguisher: `ASN:number` or `IPv4:number`. */
export const ROUTE_TARGET_PATTERN = new RegExp(`^(?:\\d{1,10}|${IPV4}):\\d{1,10}$`);
/** A traffic destination: a node id or an IPv4 address. */
export const TARGET_PATTERN = new RegExp(`^(?:[A-Za-z][A-Za-z0-9_.-]*|${IPV4})$`);

const DURATION_EXP: Record<string, number> = { us: 0, ms: 3, s: 6 };
const RATE_EXP: Record<string, number> = { bps: 0, kbps: 3, Mbps: 6, Gbps: 9 };

/** `intPart.frac * 10^exp` exactly, when it is a safe whole number; otherwise undefined. */
function scaleDecimal(intPart: string, frac: string, exp: number): number | undefined {
  const digits = intPart + frac;
  const shift = exp - frac.length;
  let text: string;
  if (shift >= 0) {
    text = digits + '0'.repeat(shift);
  } else {
    const cut = digits.length + shift;
    if (/[^0]/.test(digits.slice(cut))) return undefined;
    text = digits.slice(0, cut) || '0';
  }
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** "500us" | "2ms" | "1.5s" -> integer microseconds; undefined when malformed or not whole. */
export function parseDurationUs(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  return scaleDecimal(m[1]!, m[2] ?? '', DURATION_EXP[m[3]!]!);
}

/** "100Mbps" | "1.5kbps" | 0 | "0" | "unlimited" -> bits per second (0 = unlimited). */
export function parseRateBps(value: string | number): number | undefined {
  if (value === 0 || value === '0' || value === 'unlimited') return 0;
  if (typeof value !== 'string') return undefined;
  const m = RATE_PATTERN.exec(value);
  if (!m) return undefined;
  return scaleDecimal(m[1]!, m[2] ?? '', RATE_EXP[m[3]!]!);
}

const SIZE_UNIT_BYTES: Record<string, bigint> = { B: 1n, kB: 1000n, MB: 1000n ** 2n, GB: 1000n ** 3n, KiB: 1024n, MiB: 1024n ** 2n, GiB: 1024n ** 3n };

/** 4096 | "1MB" | "1.5KiB" -> whole bytes; undefined when malformed or not a whole number of bytes. */
export function parseSizeBytes(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = SIZE_PATTERN.exec(value);
  if (!m) return undefined;
  const frac = m[2] ?? '';
  const scaled = BigInt(m[1]! + frac) * SIZE_UNIT_BYTES[m[3]!]!;
  const div = 10n ** BigInt(frac.length);
  if (scaled % div !== 0n) return undefined;
  const n = Number(scaled / div);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** 0.01 | "1%" -> probability 0..1; undefined when out of range or malformed. */
export function parseLoss(value: string | number): number | undefined {
  if (typeof value === 'number') return value >= 0 && value <= 1 ? value : undefined;
  const m = PERCENT_PATTERN.exec(value);
  if (!m) return undefined;
  const pct = Number(m[1]);
  return pct <= 100 ? pct / 100 : undefined;
}

function parseIpv4Text(text: string): number | undefined {
  if (!IPV4_PATTERN.test(text)) return undefined;
  return text.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) >>> 0;
}

/** Checks the value ranges of a route target / distinguisher already matching the pattern. */
export function routeTargetInRange(text: string): boolean {
  const colon = text.lastIndexOf(':');
  const admin = text.slice(0, colon);
  const assigned = Number(text.slice(colon + 1));
  if (admin.includes('.')) return assigned <= 0xffff; // type 1: IPv4 : 2-byte number
  const asn = Number(admin);
  if (asn <= 0xffff) return assigned <= 0xffffffff; // type 0: 2-byte AS : 4-byte number
  return asn <= 0xffffffff && assigned <= 0xffff; // type 2: 4-byte AS : 2-byte number
}

// ---------------------------------------------------------------------------------------------
// Messages

/** How a value that was got is named in a message. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

type RawIssue = z.core.$ZodRawIssue;

/** An error customiser: `expected <what>, got <input>` (unknown fields are left to the loader). */
function expecting(what: string) {
  return (iss: RawIssue): string | undefined =>
    iss.code === 'unrecognized_keys' ? undefined : `expected ${what}, got ${describeValue(iss.input)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

function fieldNames(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

/**
 * The error map for everything the schemas do not word themselves. Unknown fields get
 * `expected one of the fields a, b, c`; the loader adds `, got unknown field "x"` per key.
 */
export function topologyErrorMap(iss: RawIssue): string {
  const got = describeValue(iss.input);
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${got}`;
    case 'too_small':
    case 'too_big': {
      const small = iss.code === 'too_small';
      const bound = Number(small ? iss.minimum : iss.maximum);
      if (iss.origin === 'array') {
        const size = Array.isArray(iss.input) ? iss.input.length : got;
        return `expected ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}, got ${size}`;
      }
      if (iss.origin === 'string') {
        return small && bound === 1
          ? `expected a non-empty string, got ${got}`
          : `expected ${small ? 'at least' : 'at most'} ${bound} characters, got ${got}`;
      }
      const op = small ? (iss.inclusive === false ? '>' : '>=') : iss.inclusive === false ? '<' : '<=';
      return `expected a number ${op} ${bound}, got ${got}`;
    }
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}, got ${got}`
        : `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'unrecognized_keys':
      return `expected one of the fields ${fieldNames(iss.inst).join(', ')}`;
    case 'invalid_format':
      return `expected text matching ${iss.pattern ?? iss.format}, got ${got}`;
    default:
      return `expected a valid value, got ${got}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Field schemas

const DURATION_EXAMPLE = 'a duration such as "2ms"';

function durationProblem(input: unknown, minUs: number, what: string): string | undefined {
  if (typeof input !== 'string' || !DURATION_PATTERN.test(input)) return undefined; // the pattern reports
  const us = parseDurationUs(input);
  if (us === undefined) return `expected a whole number of microseconds, got ${describeValue(input)}`;
  if (us < minUs) return `expected ${what} of at least ${minUs}us, got ${describeValue(input)}`;
  return undefined;
}

/** A duration: number + unit us|ms|s, a whole number of microseconds, at least `minUs`. */
function duration(minUs: number, what: string) {
  const err = expecting(DURATION_EXAMPLE);
  return z
    .string({ error: err })
    .regex(DURATION_PATTERN, { error: err })
    .refine((s) => durationProblem(s, minUs, what) === undefined, {
      error: (iss) => durationProblem(iss.input, minUs, what),
    });
}

const durationDoc = (description: string) => ({
  description: `${description} Number + unit us, ms or s, e.g. "500us", "2ms", "1.5s".`,
});

function rateProblem(input: unknown, allowZero: boolean): string | undefined {
  if (typeof input !== 'string' || !RATE_PATTERN.test(input)) return undefined;
  const bps = parseRateBps(input);
  if (bps === undefined) return `expected a whole number of bits per second, got ${describeValue(input)}`;
  if (bps === 0 && !allowZero) return `expected a rate above 0, got ${describeValue(input)}`;
  return undefined;
}

const BANDWIDTH_EXAMPLE = 'a bandwidth such as "100Mbps", 0 or "unlimited"';
const bandwidthErr = expecting(BANDWIDTH_EXAMPLE);
const BandwidthSchema = z.union(
  [
    z.literal(0, { error: bandwidthErr }),
    z.literal(['0', 'unlimited'], { error: bandwidthErr }),
    z
      .string({ error: bandwidthErr })
      .regex(RATE_PATTERN, { error: bandwidthErr })
      .refine((s) => rateProblem(s, true) === undefined, { error: (iss) => rateProblem(iss.input, true) }),
  ],
  { error: bandwidthErr },
);
const bandwidthDoc = {
  description:
    'Link bandwidth: number + unit bps, kbps, Mbps or Gbps (e.g. "100Mbps"), or 0 / "unlimited" for no serialisation delay.',
};

const rateErr = expecting('a rate such as "1Mbps"');
const RateSchema = z
  .string({ error: rateErr })
  .regex(RATE_PATTERN, { error: rateErr })
  .refine((s) => rateProblem(s, false) === undefined, { error: (iss) => rateProblem(iss.input, false) });

const lossErr = expecting('a loss probability from 0 to 1 or a percentage such as "1%"');
const LossSchema = z.union(
  [
    z.number({ error: lossErr }).min(0, { error: lossErr }).max(1, { error: lossErr }),
    z
      .string({ error: lossErr })
      .regex(PERCENT_PATTERN, { error: lossErr })
      .refine((s) => parseLoss(s) !== undefined, { error: lossErr }),
  ],
  { error: lossErr },
);
const lossDoc = { description: 'Loss probability per frame: a number from 0 to 1, or a percentage such as "1%".' };

const idErr = expecting('an id such as "ce-a" (a letter, then letters, digits, "_", "." or "-")');
export const IdSchema = z.string({ error: idErr }).regex(ID_PATTERN, { error: idErr });

const nodeRef = (description: string) =>
  z
    .string({ error: expecting('a node id such as "ce-a"') })
    .regex(ID_PATTERN, { error: expecting('a node id such as "ce-a"') })
    .meta({ description });

const ipv4Err = expecting('an IPv4 address such as "10.255.0.1"');
const Ipv4Schema = z.string({ error: ipv4Err }).regex(IPV4_PATTERN, { error: ipv4Err });

const ifAddrErr = expecting('an interface address such as "10.1.0.1/24"');
const InterfaceAddressSchema = z.string({ error: ifAddrErr }).regex(IPV4_SLASH_PATTERN, { error: ifAddrErr });

const prefixErr = expecting('a prefix such as "10.1.0.0/24"');
const PrefixSchema = z
  .string({ error: prefixErr })
  .regex(IPV4_SLASH_PATTERN, { error: prefixErr })
  .refine(
    (s) => {
      if (!IPV4_SLASH_PATTERN.test(s)) return true;
      const [a, l] = s.split('/');
      const len = Number(l);
      const addr = parseIpv4Text(a!)!;
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      return ((addr & mask) >>> 0) === addr;
    },
    { error: expecting('a prefix with the host bits zero, such as "10.1.0.0/24"') },
  );

function routeTarget(what: string) {
  const err = expecting(`a ${what} such as "65000:1" or "10.0.0.1:7"`);
  return z
    .string({ error: err })
    .regex(ROUTE_TARGET_PATTERN, { error: err })
    .refine((s) => !ROUTE_TARGET_PATTERN.test(s) || routeTargetInRange(s), {
      error: expecting(`a ${what} as 2-byte AS:4-byte number, 4-byte AS:2-byte number or IPv4:2-byte number`),
    });
}
const RouteTargetSchema = routeTarget('route target');
const RouteDistinguisherSchema = routeTarget('route distinguisher');

const asnErr = expecting('an AS number from 1 to 4294967295');
const AsnSchema = z.int({ error: asnErr }).min(1, { error: asnErr }).max(4294967295, { error: asnErr });

const PAYLOAD_MAX = 65507; // 65535 - 20 (IPv4 header) - 8 (ICMP / UDP header)
const payloadErr = expecting(`a payload size in bytes from 0 to ${PAYLOAD_MAX}`);
const PayloadSchema = z.int({ error: payloadErr }).min(0, { error: payloadErr }).max(PAYLOAD_MAX, { error: payloadErr });

const portErr = expecting('a port number from 1 to 65535');
const PortSchema = z.int({ error: portErr }).min(1, { error: portErr }).max(65535, { error: portErr });

const SIZE_EXAMPLE = `a byte count from ${TCP_FLOW_HEADER_BYTES} to 1GiB such as 4096, "64kB" or "1MB"`;
const sizeErr = expecting(SIZE_EXAMPLE);
const sizeInRange = (v: string | number): boolean => {
  const n = parseSizeBytes(v);
  return n !== undefined && n >= TCP_FLOW_HEADER_BYTES && n <= TCP_FLOW_BYTES_MAX;
};
/** Bytes of a tcp flow: a whole number or number + unit; at least the stream header, at most 1 GiB. */
const FlowBytesSchema = z
  .union([z.int({ error: sizeErr }), z.string({ error: sizeErr }).regex(SIZE_PATTERN, { error: sizeErr })], { error: sizeErr })
  .refine(sizeInRange, { error: sizeErr });

const modeErr = expecting(`one of ${MODES.map((m) => `"${m}"`).join(', ')}`);
export const ModeSchema = z.enum(MODES, { error: modeErr });
const roleErr = expecting(`one of ${ROLES.map((r) => `"${r}"`).join(', ')}`);
const seedErr = expecting('a non-negative whole number');
export const SeedSchema = z.int({ error: seedErr }).min(0, { error: seedErr });

// ---------------------------------------------------------------------------------------------
// Structure

export const LinkDefaultsSchema = z
  .strictObject(
    {
      latency: duration(1, 'a latency').default('1ms').meta(durationDoc('One-way latency of a link, at least 1us.')),
      jitter: duration(0, 'a jitter').default('0ms').meta(durationDoc('Random extra delay added per frame, up to this much.')),
      bandwidth: BandwidthSchema.default('1Gbps').meta(bandwidthDoc),
      loss: LossSchema.default(0).meta(lossDoc),
    },
    { error: expecting('a mapping of link defaults such as { latency: 1ms }') },
  )
  .meta({ title: 'Link defaults', description: 'Values used by every link that does not set them.' });

export const EndpointSchema = z.union(
  [
    nodeRef('The node at this end; the link gets an automatic /30 from 100.64.0.0/10.'),
    z
      .strictObject(
        {
          node: nodeRef('The node at this end.'),
          address: InterfaceAddressSchema.meta({
            description: 'Interface address with the prefix length of the link subnet, e.g. "10.1.0.1/24".',
          }),
        },
        { error: expecting('a node id or { node, address }') },
      )
      .meta({ title: 'Addressed endpoint' }),
  ],
  { error: expecting('a node id or { node, address }') },
);

export const LinkSchema = z
  .strictObject(
    {
      id: IdSchema.optional().meta({ description: 'Link id; default "<a>--<b>" from the endpoint node ids.' }),
      endpoints: z
        .array(EndpointSchema, { error: expecting('two endpoints such as [ce-a, pe1]') })
        .length(2, { error: expecting('two endpoints such as [ce-a, pe1]') })
        .meta({
          description:
            'The two ends: node ids, or { node, address } on both ends. Without addresses the link gets 100.64.0.0 + 4*index as a /30.',
        }),
      latency: duration(1, 'a latency')
        .optional()
        .meta(durationDoc('One-way latency, at least 1us. Default: defaults.link.latency, else 1ms.')),
      jitter: duration(0, 'a jitter')
        .optional()
        .meta(durationDoc('Random extra delay per frame. Default: defaults.link.jitter, else 0ms.')),
      bandwidth: BandwidthSchema.optional().meta({
        description: `${bandwidthDoc.description} Default: defaults.link.bandwidth, else 1Gbps.`,
      }),
      loss: LossSchema.optional().meta({ description: `${lossDoc.description} Default: defaults.link.loss, else 0.` }),
      up: z.boolean().default(true).meta({ description: 'Whether the link starts up.' }),
    },
    { error: expecting('a link such as { endpoints: [ce-a, pe1] }') },
  )
  .meta({ title: 'Link', description: 'A point-to-point link between two nodes.' });

export const VrfSchema = z
  .strictObject(
    {
      name: IdSchema.meta({ description: 'VRF name, unique on its PE.' }),
      rd: RouteDistinguisherSchema.meta({ description: 'Route distinguisher, e.g. "65000:1" or "10.0.0.1:7".' }),
      import: z.array(RouteTargetSchema).default([]).meta({ description: 'Route targets imported into this VRF.' }),
      export: z.array(RouteTargetSchema).default([]).meta({ description: 'Route targets attached to routes exported from this VRF.' }),
      attachments: z
        .array(nodeRef('A neighbouring node (usually a CE) whose interface belongs to this VRF.'))
        .default([])
        .meta({ description: 'Neighbouring nodes whose link interfaces belong to this VRF.' }),
    },
    { error: expecting('a VRF such as { name: blue, rd: "65000:1" }') },
  )
  .meta({ title: 'VRF', description: 'A VPN routing and forwarding instance on a PE (RFC 4364).' });

const establishErr = expecting('on-demand or pre-established');
const EstablishSchema = z.enum(['on-demand', 'pre-established'], { error: establishErr });
const prefixListErr = expecting('a prefix such as "10.1.0.0/24" or a list of them');
const PrefixListSchema = z.union([PrefixSchema, z.array(PrefixSchema, { error: prefixListErr }).min(1, { error: prefixListErr })], { error: prefixListErr });
const gatewayErr = expecting('a node id or an IPv4 address');

export const PolicyEntrySchema = z
  .strictObject(
    {
      action: z.enum(['protect', 'bypass', 'discard'], { error: expecting('protect, bypass or discard') }).meta({
        description: 'RFC 4301 §4.4.1: PROTECT (ESP tunnel to a gateway), BYPASS (forward in clear) or DISCARD.',
      }),
      source: PrefixListSchema.optional().meta({
        description: 'Local (source) prefixes, the locally configured half of the policy. Default: a ce\'s trustedSubnets, a host\'s own addresses.',
      }),
      destination: z
        .union([z.literal('bgp'), PrefixListSchema], { error: expecting('"bgp", a prefix such as "10.1.0.0/24" or a list of them') })
        .meta({
          description:
            'Remote (destination) prefixes, or "bgp" (protect only, one per node): the trusted subnets BGP advertises with a Security Gateway Identity, each through its own gateway (seed 002 FIG. 3 entry #1).',
        }),
      gateway: z
        .string({ error: gatewayErr })
        .regex(TARGET_PATTERN, { error: gatewayErr })
        .optional()
        .meta({ description: 'protect with explicit destinations: the tunnel\'s far end, a ce or host node id (its tunnel address) or an IPv4 address (FIG. 3 entries #3 and #4).' }),
      establish: EstablishSchema.optional().meta({
        description: 'protect only: build the SA on the first matching packet (on-demand) or as soon as the entry exists (pre-established).',
      }),
    },
    { error: expecting('a policy entry such as { action: protect, destination: bgp }') },
  )
  .meta({ title: 'Policy entry', description: 'One SPD entry of a security gateway (seed 002 FIG. 3 configuration data 310), in order: the first match wins.' });

export const IkeSchema = z
  .strictObject(
    {
      psk: z.string({ error: expecting('a pre-shared key (text)') }).min(1, { error: expecting('a non-empty pre-shared key') }).optional().meta({
        description: "IKEv2 pre-shared key of this gateway. Default: its VPN's psk.",
      }),
      establish: EstablishSchema.default('on-demand').meta({
        description: 'For SPD entries learned from BGP whose Security Gateway Identity does not ask for pre-establishment.',
      }),
      announce: EstablishSchema.default('on-demand').meta({
        description: 'What this gateway asks of the others in its Security Gateway Identity: pre-established sets the P flag (0x8000).',
      }),
      lifetime: duration(1000, 'a lifetime').default('3600s').meta(durationDoc('Child SA hard lifetime.')),
      rekey: duration(1000, 'a rekey time').default('3000s').meta(durationDoc('Child SA soft lifetime: the creator rekeys then; less than lifetime.')),
      queue: z
        .int({ error: expecting('a queue length from 1 to 4096') })
        .min(1, { error: expecting('a queue length from 1 to 4096') })
        .max(4096, { error: expecting('a queue length from 1 to 4096') })
        .default(32)
        .meta({ description: 'Packets waiting for an SA, per SPD entry; more are dropped and counted.' }),
    },
    { error: expecting('IKE settings such as { psk: "secret" }') },
  )
  .meta({ title: 'IKE', description: 'IKEv2 and SA settings of a security gateway (ce, or a host that ends a tunnel).' });

const keyIdErr = expecting('a TCP-AO KeyID from 0 to 255');
const KeyIdSchema = z.int({ error: keyIdErr }).min(0, { error: keyIdErr }).max(255, { error: keyIdErr });
const authKeyErr = expecting(`a key of 1 to ${PE_AUTH_KEY_BYTES_MAX} bytes (UTF-8)`);
const AuthKeySchema = z
  .string({ error: authKeyErr })
  .refine((s) => {
    const n = new TextEncoder().encode(s).length;
    return n >= 1 && n <= PE_AUTH_KEY_BYTES_MAX;
  }, { error: authKeyErr });

export const PeAuthSchema = z
  .strictObject(
    {
      kind: z.enum(PE_AUTH_KINDS, { error: expecting('"tcp-ao" or "tcp-md5"') }).meta({
        description: 'tcp-ao: TCP Authentication Option (RFC 5925, RFC 5926 algorithms); tcp-md5: TCP MD5 signature (RFC 2385).',
      }),
      key: AuthKeySchema.meta({ description: 'Shared key (TCP MD5 key or TCP-AO master key) as text; its UTF-8 bytes are the key.' }),
      peKey: AuthKeySchema.optional().meta({ description: 'The PE\'s copy of the key when it differs (to show a mismatch). Default: key.' }),
      algorithm: z
        .enum(PE_AUTH_ALGORITHMS, { error: expecting('"hmac-sha1-96" or "aes-128-cmac-96"') })
        .default('hmac-sha1-96')
        .meta({ description: 'tcp-ao only: MAC algorithm with its KDF (RFC 5926).' }),
      keyId: KeyIdSchema.default(1).meta({ description: 'tcp-ao only: KeyID the CE sends (SendID of its MKT).' }),
      peKeyId: KeyIdSchema.optional().meta({ description: 'tcp-ao only: KeyID the PE sends. Default: keyId.' }),
    },
    { error: expecting('a session protection such as { kind: tcp-ao, key: "secret" }') },
  )
  .meta({ title: 'PE session authentication', description: 'TCP MD5 or TCP-AO on the BGP sessions between a CE and its PEs.' });

export const NodeSchema = z
  .strictObject(
    {
      id: IdSchema.meta({ description: 'Unique node id: a letter, then letters, digits, "_", "." or "-".' }),
      role: z.enum(ROLES, { error: roleErr }).meta({
        description: 'host, ce (customer edge), pe (provider edge), p (provider core) or sr (Security/Routing device).',
      }),
      label: z.string().optional().meta({ description: 'Display name.' }),
      site: z.string().optional().meta({ description: 'Customer site this node belongs to.' }),
      asn: AsnSchema.optional().meta({ description: 'BGP autonomous system number, 1..4294967295.' }),
      routerId: Ipv4Schema.optional().meta({ description: 'BGP identifier / router id (IPv4 address).' }),
      loopback: Ipv4Schema.optional().meta({ description: 'Loopback address (IPv4).' }),
      trustedSubnets: z
        .array(PrefixSchema)
        .optional()
        .meta({ description: 'ce only: prefixes this security gateway protects (seed 002 trusted subnets).' }),
      peAuth: PeAuthSchema.optional().meta({
        description: 'ce only: protect the BGP sessions with its PEs with TCP-AO (RFC 5925) or TCP MD5 (RFC 2385), configured on both ends. Default: none.',
      }),
      vrfs: z.array(VrfSchema).optional().meta({ description: 'pe only: VRFs.' }),
      policy: z
        .array(PolicyEntrySchema)
        .optional()
        .meta({
          description:
            'ce or host: the security policy (SPD) in order, first match wins. Default for a ce in gateway mode: [{ action: protect, destination: bgp }].',
        }),
      ike: IkeSchema.optional().meta({ description: 'ce or host: IKEv2 and SA settings.' }),
      routeReflector: z
        .boolean({ error: expecting('true or false') })
        .optional()
        .meta({ description: 'pe or p only: a BGP route reflector (RFC 4456) for the PEs; the other PEs peer with it over iBGP instead of a full mesh.' }),
      position: z
        .strictObject(
          { x: z.number().meta({ description: 'Canvas x.' }), y: z.number().meta({ description: 'Canvas y.' }) },
          { error: expecting('a position such as { x: 100, y: 200 }') },
        )
        .optional()
        .meta({ description: 'Drawing position on the canvas.' }),
    },
    { error: expecting('a node such as { id: ce-a, role: ce }') },
  )
  .meta({ title: 'Node', description: 'A device: host, ce, pe, p or sr.' });

export const VpnSchema = z
  .strictObject(
    {
      id: IdSchema.meta({ description: 'Unique VPN id.' }),
      routeTarget: RouteTargetSchema.meta({ description: 'Route target of the VPN, e.g. "65000:1".' }),
      sites: z.array(nodeRef('A ce node in this VPN.')).min(1).meta({ description: 'The ce nodes of the VPN.' }),
      psk: z
        .string({ error: expecting('a pre-shared key (text)') })
        .min(1, { error: expecting('a non-empty pre-shared key') })
        .optional()
        .meta({ description: 'gateway mode: the IKEv2 pre-shared key of every gateway of the VPN. Default: derived from the seed and the VPN id.' }),
    },
    { error: expecting('a VPN such as { id: blue, routeTarget: "65000:1", sites: [ce-a] }') },
  )
  .meta({ title: 'VPN' });

export const GroupSchema = z
  .strictObject(
    {
      groupId: z
        .int({ error: expecting('a group id from 1 to 4294967295') })
        .min(1, { error: expecting('a group id from 1 to 4294967295') })
        .max(4294967295, { error: expecting('a group id from 1 to 4294967295') })
        .meta({ description: 'Group identifier (seed 001), unique.' }),
      name: z.string().min(1).optional().meta({ description: 'Group name; default "group-<groupId>".' }),
      sr: nodeRef('The S/R device (role sr) serving this group; default: the only sr node.').optional(),
      members: z.array(nodeRef('A ce node that registers with the group.')).min(1).meta({ description: 'Member ce nodes.' }),
      discovery: z
        .enum(['member-list', 'auto'])
        .default('member-list')
        .meta({
          description:
            'member-list: members name the group and the other members when they register; auto: they name only the group id and the S/R auto-discovers the others.',
        }),
      rekeyOnMembershipChange: z
        .boolean()
        .default(true)
        .meta({ description: 'Group policy: hand out new keys when a member is added or removed.' }),
      tekLifetime: duration(10_000_000, 'a TEK lifetime')
        .optional()
        .meta(durationDoc('Lifetime of each data-security SA (TEK); the GCKS rekeys before it ends, old and new overlapping. Default "3600s", at least 10s.')),
      kekLifetime: duration(10_000_000, 'a KEK lifetime')
        .optional()
        .meta(durationDoc('Lifetime of the rekey SA (KEK). Default "86400s", at least 10s.')),
      schedule: z
        .array(
          z
            .strictObject(
              {
                at: duration(0, 'a time').meta(durationDoc('When, from the start of the run.')),
                join: nodeRef('A member that registers only at this time (not at the start).').optional(),
                leave: nodeRef('A member the S/R device evicts at this time (RFC 9838 exclusion).').optional(),
              },
              { error: expecting('a membership change such as { at: 8s, join: ce-e } or { at: 12s, leave: ce-d }') },
            )
            .meta({ title: 'Membership change' }),
        )
        .default([])
        .meta({ description: 'Members joining late or being removed while the run goes on.' }),
    },
    { error: expecting('a group such as { groupId: 1, members: [ce-a, ce-b] }') },
  )
  .meta({ title: 'Group', description: 'A seed 001 group: members, the S/R device, discovery and rekey policy.' });

const fromRef = nodeRef('The host that sends.');
const toRef = z
  .string({ error: expecting('a node id or an IPv4 address') })
  .regex(TARGET_PATTERN, { error: expecting('a node id or an IPv4 address') })
  .meta({ description: "Destination: a node id (its loopback, else its first interface address) or an IPv4 address." });

export const PingSchema = z
  .strictObject({
    kind: z.literal('ping'),
    from: fromRef,
    to: toRef,
    count: z.int().min(1).default(5).meta({ description: 'Echo requests to send.' }),
    interval: duration(1, 'an interval').default('1s').meta(durationDoc('Time between echo requests.')),
    start: duration(0, 'a start').default('1s').meta(durationDoc('When the first request goes (virtual time).')),
    size: PayloadSchema.default(56).meta({ description: 'ICMP payload bytes.' }),
  })
  .meta({ title: 'Ping', description: 'ICMP echo requests from a host.' });

export const UdpSchema = z
  .strictObject({
    kind: z.literal('udp'),
    from: fromRef,
    to: toRef,
    rate: RateSchema.default('1Mbps').meta({ description: 'Sending rate, e.g. "1Mbps" (payload bits per second).' }),
    size: PayloadSchema.default(512).meta({ description: 'UDP payload bytes per datagram.' }),
    start: duration(0, 'a start').default('1s').meta(durationDoc('When the flow starts (virtual time).')),
    duration: duration(1, 'a duration').default('1s').meta(durationDoc('How long the flow sends.')),
    srcPort: PortSchema.default(5000).meta({ description: 'UDP source port.' }),
    dstPort: PortSchema.default(5001).meta({ description: 'UDP destination port.' }),
  })
  .meta({ title: 'UDP flow', description: 'A constant-rate UDP flow from a host.' });

const tcpPortErr = expecting('a port number from 1 to 65535 other than 179 (BGP)');
export const TcpSchema = z
  .strictObject({
    kind: z.literal('tcp'),
    from: fromRef,
    to: toRef,
    bytes: FlowBytesSchema.default('1MB').meta({
      description: `Bytes the client sends, the ${TCP_FLOW_HEADER_BYTES}-byte stream header included: a whole number or number + unit B, kB, MB, GB, KiB, MiB, GiB (e.g. "64kB", "1MB").`,
    }),
    start: duration(0, 'a start').default('1s').meta(durationDoc('When the client connects (virtual time).')),
    dstPort: PortSchema.refine((p) => p !== 179, { error: tcpPortErr }).default(80).meta({ description: 'TCP port the destination host sinks the flow on (179 is BGP\'s).' }),
    srcPort: PortSchema.optional().meta({ description: 'TCP source port; by default an ephemeral port (49152-65535) drawn from the seed.' }),
  })
  .meta({ title: 'TCP flow', description: 'A TCP transfer: the source host connects, sends `bytes` and closes; the destination host runs a sink server.' });

export const TrafficSchema = z.discriminatedUnion('kind', [PingSchema, UdpSchema, TcpSchema], {
  error: (iss) => {
    if (iss.code === 'invalid_union') {
      const kind = (iss.input as { kind?: unknown } | undefined)?.kind;
      return `expected kind "ping", "udp" or "tcp", got ${describeValue(kind)}`;
    }
    return `expected a traffic flow such as { kind: ping, from: h-a, to: h-b }, got ${describeValue(iss.input)}`;
  },
});

export const TopologyFileSchema = z
  .strictObject(
    {
      $schema: z.string().optional().meta({ description: 'Path or URL of this JSON Schema (for editors).' }),
      name: z.string().min(1).meta({ description: 'Name of the topology.' }),
      description: z.string().default('').meta({ description: 'What this topology shows.' }),
      mode: ModeSchema.default('l3vpn').meta({
        description:
          'l3vpn: RFC 4364 only; mesh: plus static CE-CE IPsec; gateway: seed 002 security gateways; group: seed 001 group SA + S/R device.',
      }),
      seed: SeedSchema.default(1).meta({ description: 'Seed of the random number generator (a run is reproducible).' }),
      defaults: z
        .strictObject({ link: LinkDefaultsSchema.prefault({}) }, { error: expecting('a mapping such as { link: { latency: 1ms } }') })
        .prefault({})
        .meta({ title: 'Defaults', description: 'Default values.' }),
      nodes: z.array(NodeSchema).min(1).meta({ description: 'The devices; their order gives node indexes.' }),
      links: z.array(LinkSchema).default([]).meta({ description: 'Point-to-point links; their order gives link indexes and interface numbers.' }),
      vpns: z.array(VpnSchema).default([]).meta({ description: 'RFC 4364 VPNs: route target and ce sites.' }),
      groups: z.array(GroupSchema).default([]).meta({ description: 'Seed 001 groups.' }),
      traffic: z.array(TrafficSchema).default([]).meta({ description: 'Traffic to generate.' }),
    },
    { error: expecting('a topology mapping with name and nodes') },
  )
  .meta({
    title: 'VPN Lab topology',
    description: 'A VPN Lab topology file (YAML or JSON): nodes, links, VPNs, groups and traffic.',
  });

export type TopologyFile = z.output<typeof TopologyFileSchema>;
export type TopologyFileInput = z.input<typeof TopologyFileSchema>;
export type NodeFile = z.output<typeof NodeSchema>;
export type LinkFile = z.output<typeof LinkSchema>;
export type EndpointFile = z.output<typeof EndpointSchema>;
export type LinkDefaultsFile = z.output<typeof LinkDefaultsSchema>;
export type VpnFile = z.output<typeof VpnSchema>;
export type GroupFile = z.output<typeof GroupSchema>;
export type TrafficFile = z.output<typeof TrafficSchema>;

/** The JSON Schema (draft 2020-12) of the file format, for editors and public/topology.schema.json. */
export function topologyJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(TopologyFileSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}

/** The exact text of public/topology.schema.json. */
export function topologyJsonSchemaText(): string {
  return `${JSON.stringify(topologyJsonSchema(), null, 2)}\n`;
}
