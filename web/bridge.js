// Glue between the page's Python (PyScript) and the training worker. Every message it makes or
// reads is a type of inkling.messages.protocol (inkling/messages/signals.py lists the glue's own).
//
// Why JS: every message from the worker would otherwise be a call into Python. This file keeps
// only the newest signal (and the newest weights) and gives Python one batch per animation
// frame; Python answers how long until it wants a frame of its own accord (a chart redraw
// that waits), and gets it from a timer instead of every frame in between. It also starts the
// worker once the page's Python runs (and again when Python asks, after one died), notices a
// worker's death, shows PyScript's loading steps, and wraps the few browser APIs (IndexedDB,
// downloads) that are callback-shaped. No logic of the product lives here.

const WORKER_URL = new URL("./workers/worker.js", import.meta.url);
const DB_NAME = "inkling";
const DB_STORE = "weights";

let latestSignal = null;   // newest {"type": "signal"} message, its weights taken out
let latestWeights = null;  // newest "weights" seen in any signal (later ones may carry none)
let events = [];           // every other message (progress, ready, error) and every reply, in order
let onFrame = null;        // Python's frame handler, once the page's Python runs
let framePending = false;
let wakeTimer = null;      // the frame Python asked for, later

function frame() {
  framePending = false;
  if (!onFrame) return;
  const batch = { signal: latestSignal, weights: latestWeights, events };
  latestSignal = null;
  latestWeights = null;
  events = [];
  const started = performance.now();
  let wakeInMs;
  try {
    wakeInMs = onFrame(batch);
  } catch (error) {
    console.error("inkling: frame handler failed", error);
  }
  // A frame's answer replaces the last one's: a wake-up asked for earlier and no longer wanted (that
  // frame's work got done here) must not cost a frame of its own.
  clearTimeout(wakeTimer);
  wakeTimer = typeof wakeInMs === "number" ? setTimeout(requestFrame, wakeInMs) : null;
  // What the main thread spends per frame on the worker's news (read by the measuring script).
  const spent = performance.now() - started;
  frameStats.frames += 1;
  frameStats.ms += spent;
  frameStats.maxMs = Math.max(frameStats.maxMs, spent);
}
const frameStats = { frames: 0, ms: 0, maxMs: 0 };

function requestFrame() {
  if (!framePending) {
    framePending = true;
    requestAnimationFrame(frame);
  }
}

function receive(message) {
  if (message && message.type === "signal") {
    if (message.weights) {
      latestWeights = message.weights;
      message.weights = null;  // Python reads the newest weights from latestWeights
    }
    // A reply to a command is never dropped: Python waits for it (weights travel in latestWeights).
    // Nor is a confusion matrix: it rides one signal only, which a newer one may replace. Python
    // reads it from the event, so the newest signal leaves it out (it is converted once, not twice).
    if ((message.reply_to !== null && message.reply_to !== undefined) || message.confusion) events.push(message);
    latestSignal = message.confusion ? { ...message, confusion: null } : message;
  } else {
    events.push(message);
    if (message && message.type === "progress") preview(`worker: ${message.detail}`, message.stage);
  }
  requestFrame();
}

// ---- the training worker, and noticing when it dies -------------------------------------------
//
// A worker that is terminated or crashes sends nothing, and a worker busy with a long
// training step answers nothing either, so no heartbeat can tell busy from dead. Instead
// each worker takes a Web Lock with a name of its own as the first thing it does and
// never releases it; the browser releases it only when the worker is gone, and then
// grants the page's own request for the same lock. An uncaught error in a worker that
// was ready, or a report of a fatal Pyodide error, means its state is unknown: it is
// terminated and counts as lost too. The page's Python decides whether to start another.
//
// Outside a secure context there are no Web Locks. There a ready worker that has been quiet
// for a while is asked for its status, and one that leaves the question unanswered for
// SILENCE_LIMIT_MS is lost. The limit is far above the longest step a worker takes (about
// 4 s at the largest batch and width), so a busy worker is not mistaken for a dead one.
// Only an unanswered question counts: timers of a hidden tab may fire a minute apart.
const PAGE_ID = Math.random().toString(36).slice(2, 10);  // lock names are shared by the origin's tabs
const LOCKS = typeof navigator.locks?.request === "function";  // missing outside secure contexts
const ASK_AFTER_MS = 3000;
const SILENCE_LIMIT_MS = 20000;
let worker = null;  // the current worker, null between a loss and the next start
let workerCount = 0;

function startWorker() {
  workerCount += 1;
  const lock = `inkling-worker-${PAGE_ID}-${workerCount}`;
  const url = new URL(WORKER_URL);
  url.searchParams.set("lock", lock);
  const engine = new URL(location.href).searchParams.get("engine");  // ?engine=numpy forces the fallback
  if (engine) url.searchParams.set("engine", engine);
  const started = new Worker(url, { type: "module" });
  const first = workerCount === 1;
  let ready = false;
  let heardAt = performance.now();
  started.onmessage = ({ data }) => {
    if (started !== worker) return;  // the last words of a worker already replaced
    heardAt = performance.now();
    if (data && data.type === "lock") {
      navigator.locks.request(lock, () => lost(started, "it stopped running (terminated or crashed)"));
    } else if (data && data.type === "fatal") {
      lost(started, `its Python runtime failed: ${data.message}`);
    } else {
      if (data && data.type === "ready" && !ready) {
        ready = true;
        if (!LOCKS) watchSilence(started, () => heardAt);
      }
      receive(data);
    }
  };
  started.onerror = (event) => {
    event.preventDefault();
    if (started !== worker) return;
    if (first && !ready) {
      receive({
        type: "start_failed", stage: null,
        message: `the training worker failed to load (${WORKER_URL.pathname}): ${event.message || "script error"}`,
      });
    } else {
      lost(started, `it threw an uncaught error: ${event.message || "script error"}`);
    }
  };
  worker = started;
}

function watchSilence(which, heardAt) {
  let askedAt = null;  // when the unanswered status request was sent
  const timer = setInterval(() => {
    if (which !== worker) return clearInterval(timer);
    const now = performance.now();
    if (askedAt !== null && heardAt() < askedAt) {
      if (now - askedAt >= SILENCE_LIMIT_MS) {
        clearInterval(timer);
        lost(which, `it stopped answering (nothing for ${SILENCE_LIMIT_MS / 1000} s after a status request)`);
      }
    } else if (now - heardAt() >= ASK_AFTER_MS) {
      askedAt = now;
      which.postMessage({ type: "status" });  // a protocol command; its reply is a signal like any other
    }
  }, 1000);
}

function lost(which, reason) {
  if (which !== worker) return;
  worker = null;
  which.terminate();  // it may be alive in an unknown state; a dead one ignores this
  receive({ type: "worker_lost", reason, at: performance.now() });
}

// Until the page's Python runs (it then renders the loading screen itself from the
// same messages), show PyScript's loading steps and the worker's stages as they come.
function preview(text, stage) {
  if (onFrame) return;
  const status = document.querySelector("[data-testid=status]");
  if (status) status.textContent = text;
  const item = stage && document.querySelector(`#stages li[data-stage="${stage}"]`);
  if (!item) return;
  for (const earlier of document.querySelectorAll("#stages li:not([data-stage=page])")) {
    if (earlier === item) break;
    earlier.className = "done";
  }
  item.className = "active";
}
// PyScript dispatches its loading steps on the window.
addEventListener("py:progress", ({ detail }) => {
  if (typeof detail === "string") preview(`page: ${detail}`, null);
});

// ---- offline use: the service worker (sw.js) that keeps the site in this browser ------------------
//
// Registered only when Python asks, once the page is ready, so keeping ~70 MB of site does not
// compete with the cold start. Its states reach Python as {type: "offline", state, detail} events:
// "unsupported", "saving", "ready", "failed", "saving_update" (a newer build arrives) and "update"
// (it is kept and waits).
const SW_URL = new URL("./sw.js", import.meta.url);
let registration = null;

function offline(state, detail = "") {
  events.push({ type: "offline", state, detail });
  requestFrame();
}

function follow(installing) {
  // A first install becomes "ready" once it serves; one beside a running version waits as "update".
  const updating = navigator.serviceWorker.controller !== null;
  let installed = false;
  offline(updating ? "saving_update" : "saving");
  installing.addEventListener("statechange", () => {
    if (installing.state === "installed") {
      installed = true;
      if (updating) offline("update");
    } else if (installing.state === "activated" && !updating) {
      offline("ready");
      isolateOnce();
    } else if (installing.state === "redundant" && !installed) {
      // A failed update leaves the kept version serving (the next visit tries again); a failed
      // first install leaves nothing kept.
      if (updating) offline("ready");
      else offline("failed", "a file of the site could not be fetched, or did not match its sha256");
    }
  });
}

async function keepOffline() {
  if (!("serviceWorker" in navigator)) {
    offline("unsupported", "browsers keep sites only over https or on localhost");
    return;
  }
  try {
    // "none": the browser asks the server for sw.js itself at every visit, never an HTTP-cached copy.
    registration = await navigator.serviceWorker.register(SW_URL, { updateViaCache: "none" });
  } catch (error) {
    offline("failed", String(error && error.message ? error.message : error));
    return;
  }
  if (!registration) {  // a browser (or a test harness) that blocks service workers without saying why
    offline("unsupported", "this browser declined to keep the site");
    return;
  }
  registration.addEventListener("updatefound", () => follow(registration.installing));
  if (registration.installing) follow(registration.installing);
  else if (registration.waiting) offline("update");
  else if (registration.active) offline("ready");
}

// A static host that sends no cross-origin isolation headers: the service worker adds them to what
// it serves from its next navigation on, so a first visit reloads once, when the site is kept and
// before training starts, to let several workers share memory. Once per tab session, so a browser
// that will not isolate the page is not reloaded over and over.
const ISOLATION_RELOAD = "inkling-isolation-reload";
function isolateOnce() {
  if (self.crossOriginIsolated || document.body.classList.contains("training")) return;
  try {
    if (sessionStorage.getItem(ISOLATION_RELOAD)) return;
    sessionStorage.setItem(ISOLATION_RELOAD, "1");
  } catch {
    return;  // storage is off: no reload that could not remember it happened (one worker trains)
  }
  location.reload();
}

function applyUpdate() {
  if (!registration || !registration.waiting) return false;
  navigator.serviceWorker.addEventListener("controllerchange", () => location.reload());
  registration.waiting.postMessage({ type: "skip_waiting" });
  return true;
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function idb(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(DB_STORE, mode);
      const request = action(tx.objectStore(DB_STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

globalThis.inklingBridge = {
  frameStats,
  /** Python registers its per-frame handler: handler({signal, weights, events}). */
  attach(handler) {
    onFrame = handler;
    // The worker starts now, not with the page: two runtimes booting at once on two cores each took
    // about twice as long, and the page's grid needs only its own. Started after it, the worker's
    // runtime also reuses the page's compiled pyodide.asm.wasm: measured, README "Start-up".
    if (workerCount === 0) startWorker();
    requestFrame();
  },
  requestFrame,
  /** Send a command (already a plain JS object) with the buffers to transfer (dropped while no worker runs). */
  post(message, transfer) {
    if (worker) worker.postMessage(message, transfer || []);
  },
  /** The current training worker (null between its loss and the next start): for tests and debugging. */
  get worker() {
    return worker;
  },
  /** Whether a worker that dies silently is noticed at once (Web Locks exist only in secure contexts). */
  watchesWorker: LOCKS,
  /** Without Web Locks: seconds of silence after a status request after which a worker counts as lost. */
  silenceLimitS: SILENCE_LIMIT_MS / 1000,
  /** Keep the site in this browser for offline use (its states arrive as "offline" events). */
  keepOffline,
  /** Switch to the newer build that waits (the page reloads under it); false if none waits. */
  applyUpdate,
  /** Start a new training worker after the last one was lost. */
  restartWorker() {
    const old = worker;
    worker = null;  // first, so its lock release is not reported as a loss
    if (old) old.terminate();
    startWorker();
  },
  /** IndexedDB: the stored bytes (Uint8Array) under key, or null. */
  async load(key) {
    const value = await idb("readonly", (store) => store.get(key));
    return value === undefined ? null : new Uint8Array(value);
  },
  /** IndexedDB: store bytes (Uint8Array) under key. */
  save(key, bytes) {
    const copy = bytes.slice().buffer;
    return idb("readwrite", (store) => store.put(copy, key));
  },
  /** Offer bytes (Uint8Array) to the user as a downloaded file. */
  download(bytes, filename, mime) {
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  },
};
