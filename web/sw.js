// Inkling's service worker: keeps the built site in this browser, so a second visit starts from
// local storage and the page works with the server gone.
//
// build.py writes dist/sw.js from this file, filling PRECACHE with the build's id and every file of
// the site with its sha256. A rebuilt site is therefore a changed sw.js: the browser installs it
// beside the running one, and it takes over at the next visit (or at once when the person asks,
// via the page's "Update now"). Every file is fetched fresh and checked against its sha256 before
// it is kept; one that fails fails the install, and the old version goes on serving.
// No product logic lives here.

const PRECACHE = /* PRECACHE */ { build: "unbuilt", files: {} } /* END PRECACHE */;
const CACHE_PREFIX = "inkling-";
const CACHE = `${CACHE_PREFIX}${PRECACHE.build}`;
const SCOPE = new URL(self.registration.scope);

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

async function precache() {
  const cache = await caches.open(CACHE);
  await Promise.all(Object.entries(PRECACHE.files).map(async ([path, sha256]) => {
    const url = new URL(path, SCOPE);
    // "no-cache": an HTTP-cached copy of the previous build would fail the integrity check.
    const response = await fetch(url, { cache: "no-cache", integrity: `sha256-${sha256}` });
    if (!response.ok) throw new Error(`could not keep ${path}: HTTP ${response.status}`);
    await cache.put(url, response);
  }));
}

self.addEventListener("activate", (event) => {
  // Older builds' copies are dropped once this one serves.
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
    }
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip_waiting") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== SCOPE.origin || !url.pathname.startsWith(SCOPE.pathname)) return;
  // The site's files are addressed without their query (the worker's URL carries its lock's name).
  const path = url.pathname.slice(SCOPE.pathname.length) || "index.html";
  if (!Object.hasOwn(PRECACHE.files, path)) return;  // not part of this build: the network, as usual
  event.respondWith(fromCache(new URL(path, SCOPE), request));
});

async function fromCache(url, request) {
  const hit = await caches.match(url, { cacheName: CACHE });
  return isolated(hit || await fetch(request));  // not kept (yet, or evicted by the browser): the network
}

// The headers that make the page cross-origin isolated, as 'python build.py serve' sends them: with
// them its workers can share memory (several train together). A plain static host sends none, so the
// site's own files get them here (every file is the site's own, so nothing else is shut out).
const ISOLATION = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
};

function isolated(response) {
  if (response.status === 0) return response;  // opaque: its headers cannot be read or changed
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) {
    if (!headers.has(name)) headers.set(name, value);
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
