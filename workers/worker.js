// Inkling training worker (a module worker): boots Pyodide, numpy and the
// inkling wheel from this site, then hands every message to one Python entry
// point (inkling.browser.worker). No training logic lives here.
import { loadPyodide } from "../pyodide/pyodide.mjs";

// One place for the site layout as seen from this file (dist/workers/).
const PYODIDE_URL = new URL("../pyodide/", import.meta.url).href;
const WHEEL_URL = new URL("../wheels/inkling-0.1.0-py3-none-any.whl", import.meta.url).href;
const DATA_URL = new URL("../data/", import.meta.url).href;

// Commands that arrive before Python is ready wait here, in order.
const early = [];
let handle = null;
self.onmessage = (event) => {
  if (handle) handle(event.data);
  else early.push(event.data);
};

const progress = (stage, detail) => self.postMessage({ type: "progress", stage, detail });

async function boot() {
  let stage = "runtime";
  try {
    progress(stage, "loading the Python runtime (Pyodide)");
    const pyodide = await loadPyodide({ indexURL: PYODIDE_URL });

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
    const entry = pyodide.pyimport("inkling.browser.worker");
    // boot() posts the remaining progress and the final {"type": "ready"} itself.
    const handler = await entry.boot(DATA_URL);
    entry.destroy();
    handle = (data) => handler(data);
    for (const data of early.splice(0)) handle(data);
  } catch (error) {
    const text = String(error && error.message ? error.message : error);
    // A Python error's message is its whole traceback: the last line says what went wrong.
    const what = text.trim().split("\n").pop();
    self.postMessage({
      type: "error",
      seq: 0,
      kind: "internal",
      field: null,
      message: `worker start-up failed at stage '${stage}': ${what}`,
      command: null,
      reply_to: null,
    });
  }
}

boot();
