// The floor for start-up: a blank page whose worker boots Pyodide and numpy, nothing else.
// A file of its own, not an inline script: the bench serves it under the site's CSP.
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onmessage = ({ data }) => {
  if (data.type === "ready") document.querySelector("[data-testid=status]").textContent = "ready";
  if (data.type === "error") document.querySelector("[data-testid=status]").textContent = "error: " + data.message;
};
