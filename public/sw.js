// VPN Lab's service worker: keeps the page working offline once loaded. Every same-origin GET is
// answered from the cache when there is a copy (hashed assets never change) and refreshed from the
// network in the background; the first visit fills the cache as the page loads.
const CACHE = 'vpnlab-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== self.location.origin) return;
  e.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(req, { ignoreSearch: false });
      const fresh = fetch(req)
        .then((res) => {
          if (res.ok && res.type === 'basic') void cache.put(req, res.clone());
          return res;
        })
        .catch(() => undefined);
      if (hit) return hit;
      const res = await fresh;
      return res ?? new Response('offline and not cached', { status: 503, statusText: 'offline' });
    }),
  );
});
