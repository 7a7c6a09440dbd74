// The floor for start-up: a blank page whose worker boots Pyodide and numpy, nothing else.
// ?workers=2 boots two such workers at once, as Inkling boots two runtimes (the page's and the
// worker's): "ready" once both are. A file of its own, not an inline script: the bench serves it
// under the site's CSP.
const count = Number(new URL(location.href).searchParams.get("workers") || 1);
const status = document.querySelector("[data-testid=status]");
let ready = 0;
for (let i = 0; i < count; i += 1) {
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.type === "ready" && ++ready === count) {
      window.floorReadyAt = performance.now();
      status.textContent = "ready";
    }
    if (data.type === "error") status.textContent = "error: " + data.message;
  };
}
