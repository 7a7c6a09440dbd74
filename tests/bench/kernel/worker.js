// Boots Pyodide, numpy and the built inkling wheel like workers/worker.js, then runs kernel_timing.py.
import { loadPyodide } from "/pyodide/pyodide.mjs";

try {
  self.postMessage({ type: "progress", stage: "runtime" });
  const pyodide = await loadPyodide({ indexURL: new URL("/pyodide/", self.location.href).href });
  await pyodide.loadPackage("numpy", { messageCallback: () => {} });
  const info = await (await fetch("/build-info.json")).json();
  pyodide.unpackArchive(await (await fetch("/" + info.inkling_wheel)).arrayBuffer(), "wheel");
  // ?script=convnet_timing runs the convnet's phase timing instead (it imports kernel_timing's clock).
  const params = new URL(self.location.href).searchParams;
  const script = params.get("script") === "convnet_timing" ? "convnet_timing" : "kernel_timing";
  for (const name of new Set(["kernel_timing", script])) {
    const text = await (await fetch(new URL(`./${name}.py`, import.meta.url))).text();
    pyodide.FS.writeFile(`/home/pyodide/${name}.py`, text);
  }
  self.postMessage({ type: "progress", stage: "timing" });
  const quick = params.get("quick") === "1";
  const module = pyodide.pyimport(script);
  self.postMessage({ type: "result", json: module.run(quick) });
} catch (error) {
  self.postMessage({ type: "error", message: String(error) });
}
