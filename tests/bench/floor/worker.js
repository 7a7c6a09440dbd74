// Boots Pyodide and numpy, the way workers/worker.js does, and stops there: ?runtime=stock (Pyodide
// as published, the default) or ?runtime=site (the built site's copy, its Python compiled to bytecode).
const RUNTIME = new URL(self.location.href).searchParams.get("runtime") === "site" ? "/pyodide/" : "/bench-stock-pyodide/";
const { loadPyodide } = await import(RUNTIME + "pyodide.mjs");

const progress = (stage) => self.postMessage({ type: "progress", stage, detail: stage });
try {
  progress("runtime");
  const pyodide = await loadPyodide({ indexURL: new URL(RUNTIME, self.location.href).href });
  progress("numpy");
  await pyodide.loadPackage("numpy", { messageCallback: () => {} });
  pyodide.runPython("import numpy");
  self.postMessage({ type: "ready" });
} catch (error) {
  self.postMessage({ type: "error", message: String(error) });
}
