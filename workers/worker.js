// Inkling training worker (a module worker): boots Pyodide, numpy and the
// inkling wheel from this site, then hands every message to one Python entry
// point (inkling.worker.main). Started with ?role=helper (by a training worker, to share its steps),
// the same file boots a helper instead (inkling.worker.helper): no data, no page.
// No training logic lives here.
import { loadPyodide } from "../pyodide/pyodide.mjs";

// One place for the site layout as seen from this file (dist/workers/).
const PYODIDE_URL = new URL("../pyodide/", import.meta.url).href;
// The wheel's file name carries the version: build.py fills it in (name_the_wheel).
const WHEEL_URL = new URL("../wheels/{{inkling_wheel}}", import.meta.url).href;
const DATA_URL = new URL("../data/", import.meta.url).href;
// Which engine computes the products: "auto" (the fastest that works) unless the page's URL said
// otherwise (?engine=numpy, passed on by bridge.js); inkling.network.engine.select checks the name.
const ENGINE = new URL(import.meta.url).searchParams.get("engine") || "auto";
const HELPER = new URL(import.meta.url).searchParams.get("role") === "helper";
// How many workers share each step until the page says otherwise: the cores the browser reports,
// less one for the page's own thread.
const WORKERS = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);

// First of all, hold the Web Lock named by the page (bridge.js) for as long as this worker
// lives: the browser releases it only when the worker is gone (terminated, closed, crashed),
// which is how the page notices a death even while a long training step keeps this thread busy.
const LOCK = new URL(import.meta.url).searchParams.get("lock");
if (LOCK && typeof navigator.locks?.request === "function") {
  navigator.locks.request(LOCK, () => {
    self.postMessage({ type: "lock" });
    return new Promise(() => {});  // never settles: held until the worker ends
  });
}

// A helper of this worker (inkling.worker.group starts them): the same script with role=helper and a
// Web Lock of its own, whose release tells this worker it died. Kept in self.inklingHelpers for
// debugging and the fault tests (they terminate one mid-training).
const helpers = [];
self.inklingHelpers = helpers;
let helperCount = 0;
self.inklingSpawnHelper = (onMessage, onLost) => {
  helperCount += 1;
  const lock = `${LOCK || "inkling-worker"}-helper-${helperCount}`;
  const url = new URL(import.meta.url);
  url.searchParams.set("role", "helper");
  url.searchParams.set("lock", lock);
  const helper = new Worker(url, { type: "module" });
  helper.onmessage = ({ data }) => {
    if (data && data.type === "lock") {
      navigator.locks.request(lock, () => onLost("terminated or crashed"));
    } else if (data && data.type === "fatal") {
      helper.terminate();
      onLost(`its Python runtime failed: ${data.message}`);
    } else {
      onMessage(data);
    }
  };
  helper.onerror = (event) => {
    event.preventDefault();
    helper.terminate();
    onLost(`it failed: ${event.message || "error"}`);
  };
  helpers.push(helper);
  if (helpers.length > 16) helpers.shift();  // the newest are what anyone looks at; ended ones go
  return helper;
};

// The worker hashes each data block with WebCrypto (inkling.worker.main.make_fetch). Its first
// digest sets WebCrypto up, which measured ~0.6 s late on a busy start-up; one tiny digest now does
// that while Pyodide boots, instead of in front of the first block.
globalThis.crypto?.subtle?.digest("SHA-256", new Uint8Array(1)).catch(() => {});

// The Python runtime cannot go on (a fatal Pyodide error, or the handler itself throwing past
// its own last line of defence): say why, then end, so the page starts a new worker.
let failed = false;
function fatal(error) {
  if (failed) return;
  failed = true;
  const text = String(error && error.message ? error.message : error).trim().split("\n").pop();
  self.postMessage({ type: "fatal", message: text || "unknown error" });
  self.close();
}

// Commands that arrive before Python is ready wait here, in order.
const early = [];
let handle = null;
self.onmessage = (event) => {
  if (!handle) {
    early.push(event.data);
    return;
  }
  try {
    handle(event.data);
  } catch (error) {
    fatal(error);
  }
};

const progress = (stage, detail) => self.postMessage({ type: "progress", stage, detail });

async function boot() {
  let stage = "runtime";
  try {
    progress(stage, "loading the Python runtime (Pyodide)");
    // numpy named here starts its download while the runtime boots, instead of after it.
    const pyodide = await loadPyodide({ indexURL: PYODIDE_URL, packages: ["numpy"] });
    // Pyodide's hook for its fatal errors (private API of 0.27; absent elsewhere, then the
    // uncaught error that follows a fatal error reaches the page as an error event instead).
    if (pyodide._api) pyodide._api.on_fatal = fatal;
    self.inklingPyodide = pyodide;  // for debugging and the fault tests (they inject a fatal error)

    stage = "numpy";
    progress(stage, "loading numpy");
    await pyodide.loadPackage("numpy", { messageCallback: () => {} });

    stage = "package";
    progress(stage, "installing the inkling package");
    const response = await fetch(WHEEL_URL);
    if (!response.ok) {
      throw new Error(`${WHEEL_URL} answered ${response.status}: rebuild the site with 'python build.py'`);
    }
    pyodide.unpackArchive(await response.arrayBuffer(), "wheel");

    stage = "data";
    const entry = pyodide.pyimport(HELPER ? "inkling.worker.helper" : "inkling.worker.main");
    // boot() posts the remaining progress and the final {"type": "ready"} itself.
    const handler = HELPER ? entry.boot(ENGINE) : await entry.boot(DATA_URL, ENGINE, WORKERS);
    entry.destroy();
    handle = (data) => handler(data);
    for (const data of early.splice(0)) self.onmessage({ data });
  } catch (error) {
    const text = String(error && error.message ? error.message : error);
    // A Python error's message is its whole traceback: the last line says what went wrong.
    const what = text.trim().split("\n").pop();
    // Not an "error": no Trainer numbers messages yet (inkling.messages.signals.StartFailed).
    self.postMessage({ type: "start_failed", stage, message: `worker start-up failed at stage '${stage}': ${what}` });
  }
}

boot();
