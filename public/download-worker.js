// Sealpost's download service worker (scope `/_download/` only): turns plaintext that a page
// decrypts into a download the browser writes straight to disk, so a file of any size never
// has to fit in memory (the technique of Firefox Send and hat.sh). The page registers a
// download over a MessageChannel (id, name, type, size), then navigates a hidden frame to
// `/_download/<id>`; this worker answers that navigation with a streamed response marked as an
// attachment, and tells the page it did ("fetched"). The stream keeps up to four chunks queued ahead of the
// browser's reads: each time it has room it asks the page for one ("pull"), and the page answers
// with the chunk, "end" or "error". Four, not one: a queue of one made every chunk wait for a
// round trip to the page (measured in Firefox: 50 MiB/s with one, 58 MiB/s with four, for 4 MiB
// more memory). A download is served once; a cancelled one tells the page ("cancel").
// It holds no key and sees no ciphertext, never caches anything and answers no other request.
'use strict';

const downloads = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const data = event.data;
  // Same-origin pages only (the browser guarantees it for a service worker's clients); a
  // "keepalive" message needs no answer: receiving it keeps this worker running.
  if (!data || data.type !== 'download' || !event.ports[0]) {
    return;
  }
  const id = String(data.id);
  if (!/^[0-9a-f]{32}$/.test(id) || downloads.has(id)) {
    return;
  }
  downloads.set(id, {
    port: event.ports[0],
    name: String(data.name),
    type: String(data.mime || 'application/octet-stream'),
    size: Number.isSafeInteger(data.size) && data.size >= 0 ? data.size : null,
  });
  event.ports[0].postMessage({ type: 'registered' });
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
    return;
  }
  const id = url.pathname.slice(scope.pathname.length).split('/')[0];
  const download = downloads.get(id);
  if (!download) {
    event.respondWith(new Response(
      'This download has ended or was not started from this browser. Go back to the page and save the file again.',
      { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } },
    ));
    return;
  }
  downloads.delete(id);
  // Tells the page this navigation reached the worker (a forced reload sends a page's frames
  // past every service worker, and the page must then know to do without).
  download.port.postMessage({ type: 'fetched' });
  const headers = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': contentDisposition(download.name),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
  if (download.size !== null) {
    headers['Content-Length'] = String(download.size);
  }
  event.respondWith(new Response(stream(download.port), { headers }));
});

// A stream that asks the page for each chunk when the browser has room for it.
function stream(port) {
  let answer = null;
  let failed = null;
  let controller = null;
  port.onmessage = (event) => {
    const message = event.data || {};
    if (message.type === 'error') {
      // Possibly unasked: the page failed (a damaged chunk) between two pulls.
      failed = new Error(String(message.message || 'the download failed'));
      if (controller) {
        try { controller.error(failed); } catch (_) { /* already closed */ }
      }
    }
    const waiting = answer;
    answer = null;
    if (waiting) {
      waiting(message);
    }
  };
  return new ReadableStream({
    start(streamController) {
      controller = streamController;
    },
    pull(streamController) {
      if (failed) {
        streamController.error(failed);
        return undefined;
      }
      return new Promise((resolve) => {
        answer = (message) => {
          if (message.type === 'chunk') {
            streamController.enqueue(new Uint8Array(message.bytes));
          } else if (message.type === 'end') {
            streamController.close();
          } else if (message.type !== 'error') {
            streamController.error(new Error('unexpected message from the page'));
          }
          resolve();
        };
        port.postMessage({ type: 'pull' });
      });
    },
    cancel() {
      port.postMessage({ type: 'cancel' });
    },
  }, new CountQueuingStrategy({ highWaterMark: 4 }));
}

// RFC 6266: the name as UTF-8 (filename*), with an ASCII stand-in for old readers; the browser
// still cleans it (no folders, no reserved names).
function contentDisposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%/]/g, '_') || 'download';
  const utf8 = encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}
