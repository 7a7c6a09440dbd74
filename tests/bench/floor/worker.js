// Boots Pyodide and numpy from the built site, the way workers/worker.js does, and stops there.
import { loadPyodide } from "/pyodide/pyodide.mjs";

const progress = (stage) => self.postMessage({ type: "progress", stage, detail: stage });
try {
  progress("runtime");
  const pyodide = await loadPyodide({ indexURL: new URL("/pyodide/", self.location.href).href });
  progress("numpy");
  await pyodide.loadPackage("numpy", { messageCallback: () => {} });
  pyodide.runPython("import numpy");
  self.postMessage({ type: "ready" });
} catch (error) {
  self.postMessage({ type: "error", message: String(error) });
}
