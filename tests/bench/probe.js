// Injected into every page the bench opens (Playwright add_init_script), before the page's
// own scripts. It only observes: it records what the worker says and when, the bridge's
// attach (the page's Python taking over), PyScript's progress, the page's grid ready, the first
// status "ready" and first prediction, long tasks, frame times and each WebAssembly memory the page creates.
// Everything lands in window.__bench; all times are performance.now() (ms since navigation).
(() => {
  const B = (window.__bench = {
    stages: {},          // name -> first time seen
    pyProgress: [],      // [t, detail] from PyScript's py:progress events
    workerOut: [],       // [t, type] of every command the page sent the worker
    last: null,          // newest compact signal from the worker
    evals: [],           // [t, test_acc, samples_seen, iteration] whenever test_acc changed
    errors: [],          // worker error messages
    longTasks: [],       // [start, duration]
    frames: null,        // rAF timestamps while recording
    memories: [],        // WebAssembly.Memory objects created on this thread
    worker: null,
  });
  const now = () => performance.now();
  const stage = (name) => { if (!(name in B.stages)) B.stages[name] = now(); };

  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(url, options) {
      super(url, options);
      B.worker = this;
      // Registered before the bridge's onmessage, so it sees each message first (weights intact).
      this.addEventListener("message", (event) => {
        const m = event.data;
        const t = now();
        if (!m) return;
        if (m.type === "progress") stage(`worker_${m.stage}`);
        else if (m.type === "ready") stage("worker_ready");
        else if (m.type === "error") B.errors.push([t, m.kind, m.message]);
        else if (m.type === "signal") {
          const prev = B.last;
          B.last = {
            t, iteration: m.iteration, samples_seen: m.samples_seen, training: m.training,
            cache_waits: m.cache_waits, data_len: m.data_len, data_futures_len: m.data_futures_len,
            cache_size: m.cache_size, batch_size: m.batch_size, hidden: m.hidden,
            samples_per_s: m.samples_per_s, test_acc: m.test_acc, loss: m.loss, augment: m.augment,
            workers: m.workers, workers_training: m.workers_training, barrier_ms: m.barrier_ms,
          };
          if (m.test_acc != null && (!prev || prev.test_acc !== m.test_acc)) {
            B.evals.push([t, m.test_acc, m.samples_seen, m.iteration]);
          }
        }
      });
    }
    postMessage(message, transfer) {
      B.workerOut.push([now(), message && message.type]);
      return super.postMessage(message, transfer);
    }
  };

  // The page's Python calls inklingBridge.attach(handler) once it runs.
  let bridge;
  Object.defineProperty(window, "inklingBridge", {
    configurable: true,
    get: () => bridge,
    set: (value) => {
      bridge = value;
      const attach = value.attach.bind(value);
      value.attach = (handler) => { stage("page_python"); return attach(handler); };
    },
  });
  document.addEventListener("py:progress", ({ detail }) => B.pyProgress.push([now(), String(detail)]));

  // The page ready (its grid draws and predicts: the loading screen gives way, body.drawing, or
  // body.ready if the worker was first), everything ready (status "ready": training can start) and
  // the first prediction shown; the observer stops once all three are seen.
  const observer = new MutationObserver(() => {
    const body = document.body;
    if (body && (body.classList.contains("drawing") || body.classList.contains("ready"))) stage("page_ready");
    const status = document.querySelector("[data-testid=status]");
    if (status && status.textContent.trim() === "ready") stage("all_ready");
    for (const el of document.querySelectorAll("[data-testid^=prediction-]")) {
      if (el.textContent.trim() !== "") { stage("first_prediction"); break; }
    }
    if (["page_ready", "all_ready", "first_prediction"].every((name) => name in B.stages)) observer.disconnect();
  });
  observer.observe(document, { subtree: true, childList: true, characterData: true, attributes: true,
                               attributeFilter: ["class"] });

  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { B.longTaskError = String(e); }

  B.recordFrames = () => {
    B.frames = [];
    const tick = (t) => { if (B.frames) { B.frames.push(t); requestAnimationFrame(tick); } };
    requestAnimationFrame(tick);
  };
  B.stopFrames = () => { const f = B.frames; B.frames = null; return f; };

  // Keep each wasm memory this thread creates (Pyodide's heap is one), to read its size later.
  const keep = (result) => {
    const instance = result && (result.instance || result);
    for (const v of Object.values((instance && instance.exports) || {})) {
      if (v instanceof WebAssembly.Memory && !B.memories.includes(v)) B.memories.push(v);
    }
    return result;
  };
  const wrap = (name) => {
    const original = WebAssembly[name];
    // Only the result is looked at: Pyodide's import object is a Proxy that makes stubs on access.
    WebAssembly[name] = function () { return original.apply(this, arguments).then(keep); };
  };
  wrap("instantiate");
  wrap("instantiateStreaming");
  // Pyodide (a dynamically linking Emscripten build) creates its heap itself and imports it.
  const NativeMemory = WebAssembly.Memory;
  const Memory = function (descriptor) {
    const memory = new NativeMemory(descriptor);
    B.memories.push(memory);
    return memory;
  };
  Memory.prototype = NativeMemory.prototype;
  WebAssembly.Memory = Memory;
  B.wasmBytes = () => B.memories.reduce((sum, m) => sum + m.buffer.byteLength, 0);
})();
