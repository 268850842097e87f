// Sealpost's app-shell service worker (scope `/`): keeps one copy of the app's files so that
// the installed app starts without a network, and tells the page which bundle it runs.
//
// `.ci/build-client` writes the list below: every other file of the bundle with its SHA-256,
// and `version`, the digest of that list. A new release is a new list, so the browser sees a
// changed worker, installs it next to the running one and switches at the next start (once no
// tab of the old version is open): an update never mixes the files of two versions.
//
// Installing fetches every file from the relay, refuses the whole version if any file's
// SHA-256 differs from the list, and caches it under `sealpost-shell-<version>`. The worker
// then answers navigations with the cached `index.html` and the bundle's own files from the
// cache. It never answers anything else: not `/api/` (every API answer comes from the relay,
// and nothing of it is ever stored here), not `/_download/` (the download worker's), not
// `/.well-known/`, and no file the list does not name.
//
// The page asks for `{type: "shell"}` over a MessageChannel and gets the bundle digest the
// relay also reports (`client_sha256`, `.ci/client-digest`): SHA-256 over every file's route
// and SHA-256, this worker's script included, computed here from the bytes it cached.
'use strict';

const SHELL = /* SHELL */ { version: '', files: [] } /* END SHELL */;
const CACHE = `sealpost-shell-${SHELL.version}`;
const META = '/__sealpost-shell.json';

self.addEventListener('install', (event) => event.waitUntil(install()));
self.addEventListener('activate', (event) => event.waitUntil(activate()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !isShellPath(url.pathname)) {
    return;
  }
  const navigation = request.mode === 'navigate';
  const route = navigation && !looksLikeFile(url.pathname) ? '/index.html' : url.pathname;
  if (!SHELL.files.some(([path]) => path === route)) {
    return;
  }
  event.respondWith(fromCache(request, route));
});

self.addEventListener('message', (event) => {
  const port = event.ports[0];
  if (!event.data || event.data.type !== 'shell' || !port) {
    return;
  }
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.match(META))
      .then((meta) => (meta ? meta.json() : null))
      .then(
        (meta) => port.postMessage(meta ? { version: SHELL.version, bundle: meta.bundle } : null),
        () => port.postMessage(null),
      ),
  );
});

async function install() {
  const cache = await caches.open(CACHE);
  const digests = [];
  for (const [route, expected] of SHELL.files) {
    // `no-cache`: the browser's HTTP cache may supply the bytes the page just loaded, after
    // the relay confirmed they are current; the SHA-256 below is checked either way.
    const response = await fetch(route, { cache: 'no-cache', credentials: 'same-origin' });
    if (!response.ok) {
      throw new Error(`${route}: the relay answered ${response.status}`);
    }
    const bytes = await response.clone().arrayBuffer();
    const actual = hex(await crypto.subtle.digest('SHA-256', bytes));
    if (actual !== expected) {
      throw new Error(`${route}: SHA-256 ${actual}, the list says ${expected}`);
    }
    await cache.put(route, response);
    digests.push([route, actual]);
  }
  // This script's own bytes, as the relay serves them now: the release's list includes it.
  const self_route = new URL(self.location.href).pathname;
  const script = await fetch(self_route, { cache: 'no-cache', credentials: 'same-origin' });
  digests.push([self_route, hex(await crypto.subtle.digest('SHA-256', await script.arrayBuffer()))]);
  const bundle = await bundleDigest(digests);
  await cache.put(META, new Response(JSON.stringify({ bundle }), {
    headers: { 'Content-Type': 'application/json' },
  }));
}

async function activate() {
  for (const name of await caches.keys()) {
    if (name.startsWith('sealpost-shell-') && name !== CACHE) {
      await caches.delete(name);
    }
  }
}

async function fromCache(request, route) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(route);
  if (cached) {
    return cached;
  }
  // The cache was cleared under us (storage pressure, the user): the relay, as without a worker.
  return fetch(request);
}

// The relay's `client_sha256`: routes in byte order, each followed by its SHA-256.
async function bundleDigest(digests) {
  const encoder = new TextEncoder();
  const parts = [];
  for (const [route, digest] of digests.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    parts.push(encoder.encode(route), unhex(digest));
  }
  const total = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    total.set(part, at);
    at += part.length;
  }
  return hex(await crypto.subtle.digest('SHA-256', total));
}

function isShellPath(path) {
  return !(path === '/api' || path.startsWith('/api/') || path.startsWith('/_download/') ||
    path.startsWith('/.well-known/'));
}

// `/client-1234.js` or `/icons/icon.svg` name files; `/l/abc` or `/app/inbox` name app routes.
function looksLikeFile(path) {
  return path.split('/').pop().includes('.');
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function unhex(text) {
  return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
}
