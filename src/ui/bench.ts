// The bench page: runs the browser-safe benchmark suites of tests/bench in this page and shows the
// rows; `window.__vpnlabBench` holds the JSON for the headless runner (tests/bench/browser.ts).
import { BROWSER_SUITES } from '../../tests/bench/browser-suites.ts';

declare global {
  interface Window {
    __vpnlabBench?: { ok: boolean; results: Record<string, string | number>[]; error?: string };
  }
}

const status = document.getElementById('status')!;
const out = document.getElementById('out')!;
document.getElementById('suites')!.textContent = Object.keys(BROWSER_SUITES).join(', ');
const wanted = (new URLSearchParams(location.search).get('suite') ?? Object.keys(BROWSER_SUITES).join(',')).split(',').filter(Boolean);

async function run(): Promise<void> {
  const results: Record<string, string | number>[] = [];
  try {
    for (const name of wanted) {
      const suite = BROWSER_SUITES[name];
      if (!suite) throw new Error(`unknown suite ${name}`);
      status.textContent = `running ${name}`;
      for (const row of await suite()) results.push({ ...row, runtime: `browser ${navigator.userAgent.match(/Chrom\w+\/[\d.]+/)?.[0] ?? ''}` });
    }
    const keys = [...new Set(results.flatMap((r) => Object.keys(r)))];
    const table = document.createElement('table');
    table.innerHTML = `<tr>${keys.map((k) => `<th>${k}</th>`).join('')}</tr>` + results.map((r) => `<tr>${keys.map((k) => `<td>${r[k] ?? ''}</td>`).join('')}</tr>`).join('');
    out.replaceChildren(table);
    status.textContent = 'done';
    window.__vpnlabBench = { ok: true, results };
  } catch (e) {
    status.textContent = `failed: ${String(e)}`;
    window.__vpnlabBench = { ok: false, results, error: String(e) };
  }
}
void run();
