// Installs what `npm start` / `npm test` need on a fresh machine: npm packages when node_modules is
// missing or older than the lock file; Debian chromium + fonts (and tshark) when missing.
// Usage: node tests/harness/ensure.js deps [browser]
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wants = new Set(process.argv.slice(2));

function run(cmd, env = {}) {
  console.log(`[ensure] ${cmd}`);
  execSync(cmd, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
}

if (wants.has('deps')) {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs;
  if (stale) run('npm ci --no-audit --no-fund', { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' });
}

if (wants.has('browser')) {
  const need = [];
  if (!existsSync('/usr/bin/chromium')) need.push('chromium');
  if (!existsSync('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf')) need.push('fonts-dejavu-core');
  if (!existsSync('/usr/bin/tshark')) need.push('tshark');
  if (need.length > 0) {
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const sudo = asRoot ? '' : 'sudo -n ';
    try {
      run(`${sudo}apt-get update -qq`, { DEBIAN_FRONTEND: 'noninteractive' });
      run(`${sudo}apt-get install -y -qq --no-install-recommends ${need.join(' ')}`, { DEBIAN_FRONTEND: 'noninteractive' });
    } catch {
      console.error(
        `[ensure] could not install ${need.join(', ')} with apt-get. Install them yourself ` +
          `(as root: apt-get install --no-install-recommends ${need.join(' ')}) and run again.`,
      );
      process.exit(1);
    }
  }
}
