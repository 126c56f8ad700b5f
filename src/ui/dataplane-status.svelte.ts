// The page's data-plane status line: runs the WASM checksum self-test once and keeps its outcome
// as reactive state. Owns no lab; it only reports whether the WASM module works in this page.
import { runDataplaneSelfTest } from '../runtime/dataplane-self-test.ts';

export type DataplaneState = 'checking' | 'ok' | 'failed';

export class DataplaneStatus {
  state = $state<DataplaneState>('checking');
  /** Failure text when state is 'failed'. */
  detail = $state('');
  /** Headers compared with the TypeScript reference when state is 'ok'. */
  headers = $state(0);

  readonly text = $derived(
    this.state === 'checking'
      ? 'data plane: checking the WASM module\u2026'
      : this.state === 'ok'
        ? 'data plane: WASM checksum self-test ok'
        : `data plane: WASM checksum self-test failed: ${this.detail}`,
  );

  async check(wasmUrl: string): Promise<void> {
    this.state = 'checking';
    const result = await runDataplaneSelfTest(wasmUrl);
    if (result.ok) {
      this.headers = result.headers;
      this.state = 'ok';
    } else {
      this.detail = result.message;
      this.state = 'failed';
    }
  }
}
