// Times the engine's products in a worker (as the training worker runs them) and shows the JSON.
// A file of its own, not an inline script: the bench serves it under the site's CSP.
// The page's query (?quick=1, ?script=convnet_timing) goes on to the worker.
const worker = new Worker(new URL("./worker.js" + location.search, import.meta.url), { type: "module" });
const status = document.querySelector("[data-testid=status]");
worker.onmessage = ({ data }) => {
  if (data.type === "result") {
    document.querySelector("[data-testid=result]").textContent = data.json;
    status.textContent = "done";
  } else {
    status.textContent = data.type === "error" ? `error: ${data.message}` : data.stage;
  }
};
