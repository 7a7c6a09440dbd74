// Boots Pyodide, numpy and the built inkling wheel like workers/worker.js, then runs kernel_timing.py.
import { loadPyodide } from "/pyodide/pyodide.mjs";

try {
  self.postMessage({ type: "progress", stage: "runtime" });
  const pyodide = await loadPyodide({ indexURL: new URL("/pyodide/", self.location.href).href });
  await pyodide.loadPackage("numpy", { messageCallback: () => {} });
  const info = await (await fetch("/build-info.json")).json();
  pyodide.unpackArchive(await (await fetch("/" + info.inkling_wheel)).arrayBuffer(), "wheel");
  const timing = await (await fetch(new URL("./kernel_timing.py", import.meta.url))).text();
  pyodide.FS.writeFile("/home/pyodide/kernel_timing.py", timing);
  self.postMessage({ type: "progress", stage: "timing" });
  const quick = new URL(self.location.href).searchParams.get("quick") === "1";
  const module = pyodide.pyimport("kernel_timing");
  self.postMessage({ type: "result", json: module.run(quick) });
} catch (error) {
  self.postMessage({ type: "error", message: String(error) });
}
