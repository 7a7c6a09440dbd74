// Started by bytecode.py: boots the pinned Pyodide under Node and runs bytecode_job.py in it over a
// working folder (mounted at /work): the site's Python compiled by the interpreter that runs it.
// Usage: node bytecode.mjs <pyodide folder> <working folder>
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const [indexDir, workDir] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(indexDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: indexDir + path.sep });
pyodide.FS.mkdirTree("/work");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: workDir }, "/work");
const job = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "bytecode_job.py"), "utf8");
pyodide.runPython(job + "\nmain('/work')\n");
