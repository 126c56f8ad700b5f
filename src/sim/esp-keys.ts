// Wireshark's `esp_sa` table (tshark 4.0: 8 fields per line) from the SAs the nodes report, so a
// capture of the run decrypts: `tshark -o esp.enable_encryption_decode:TRUE -o 'uat:esp_sa:LINE'`.
// A group SA (source `*`) becomes one line per member that may send on it (Wireshark matches on the
// addresses). Pure.

import type { EspSaExport } from '../node/types.ts';

const WIRESHARK_SUITE: Record<EspSaExport['suite'], string> = {
  'aes-gcm-128': 'AES-GCM with 16 octet ICV [RFC4106]',
  'aes-gcm-256': 'AES-GCM with 16 octet ICV [RFC4106]',
  // tshark 4.0 has no ChaCha20-Poly1305 for ESP: the line is written, it will not decrypt.
  'chacha20-poly1305': 'NULL',
};

/** One `esp_sa` line per distinct (src, dst, SPI), in a stable order. Wildcards are written as `*`. */
export function espSaLines(sas: readonly EspSaExport[]): string[] {
  const seen = new Map<string, string>();
  for (const sa of sas) {
    const spi = `0x${(sa.spi >>> 0).toString(16).padStart(8, '0')}`;
    const key = `${sa.src}|${sa.dst}|${spi}`;
    if (seen.has(key)) continue;
    seen.set(key, `"IPv4","${sa.src}","${sa.dst}","${spi}","${WIRESHARK_SUITE[sa.suite]}","0x${sa.keyHex}","NULL",""`);
  }
  return [...seen.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, line]) => line);
}
