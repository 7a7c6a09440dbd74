// The floor for start-up: a blank page whose worker boots Pyodide and numpy, nothing else.
// ?workers=2 boots two such workers at once, as Inkling boots two runtimes (the page's and the
// worker's): "ready" once both are. ?runtime=site|stock picks the runtime's files (worker.js).
// A file of its own, not an inline script: the bench serves it under the site's CSP.
const params = new URL(location.href).searchParams;
const count = Number(params.get("workers") || 1);
const workerUrl = new URL("./worker.js", import.meta.url);
workerUrl.searchParams.set("runtime", params.get("runtime") || "stock");
const status = document.querySelector("[data-testid=status]");
let ready = 0;
for (let i = 0; i < count; i += 1) {
  const worker = new Worker(workerUrl, { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.type === "ready" && ++ready === count) {
      window.floorReadyAt = performance.now();
      status.textContent = "ready";
    }
    if (data.type === "error") status.textContent = "error: " + data.message;
  };
}
