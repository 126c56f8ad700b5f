// Reads Wycheproof AEAD vectors from ../shared/vectors/wycheproof/ (CI keeps shared/ beside the clone).
import { existsSync, readFileSync } from 'node:fs';

export interface WycheproofGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: { tcId: number; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: 'valid' | 'invalid' | 'acceptable' }[];
}

const VECTORS = new URL('../../../shared/vectors/wycheproof/', import.meta.url);

export function wycheproofGroups(file: string): WycheproofGroup[] {
  const url = new URL(file, VECTORS);
  if (!existsSync(url)) throw new Error(`Wycheproof vectors not found at ${url.pathname}: the tests expect the project's shared/ folder beside the repository`);
  return JSON.parse(readFileSync(url, 'utf8')).testGroups;
}
