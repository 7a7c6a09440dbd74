// TensorFlow.js training the convnet recipe's network (c16:5,p2,c32:5,p2,128: valid 5x5 convolutions with
// ReLU, 2x2 max-pooling, dense 128 ReLU, softmax over 10; momentum SGD 0.03/0.9) on each backend, in this
// page's main thread as TensorFlow.js's own MNIST example trains, and shows samples/s as JSON.
// Query: ?backends=cpu,webgl,wasm&batches=32,64&warmup=2&window=6 (seconds; at least 1 warm-up step and
// 2 measured steps, however slow). Inputs are random images: a step's cost does not depend on its pixels.
const query = new URLSearchParams(location.search);
const backends = (query.get("backends") || "wasm,cpu,webgl").split(",");
const batches = (query.get("batches") || "32,64").split(",").map(Number);
const warmupS = Number(query.get("warmup") || 2);
const windowS = Number(query.get("window") || 6);
const status = document.querySelector("[data-testid=status]");

function network() {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 5, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 5, activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: "relu" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
  model.compile({ optimizer: tf.train.momentum(0.03, 0.9), loss: "categoricalCrossentropy" });
  return model;
}

async function rate(model, batch) {
  const x = tf.randomUniform([batch, 28, 28, 1]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32"), 10);
  const step = () => model.trainOnBatch(x, y); // resolves once the loss is read back: the step is done
  try {
    let start = performance.now();
    do { await step(); } while (performance.now() - start < warmupS * 1000);
    let steps = 0;
    start = performance.now();
    do { await step(); steps += 1; } while (steps < 2 || performance.now() - start < windowS * 1000);
    const seconds = (performance.now() - start) / 1000;
    return { samples_per_s: (steps * batch) / seconds, steps, seconds };
  } finally {
    x.dispose();
    y.dispose();
  }
}

async function measure(backend) {
  if (backend === "wasm") tf.wasm.setWasmPaths(new URL("./lib/", location.href).href);
  if (!(await tf.setBackend(backend))) return { unavailable: `tf.setBackend('${backend}') failed here` };
  await tf.ready();
  const result = { backend: tf.getBackend(), rates: {} };
  const model = network();
  try {
    for (const batch of batches) {
      status.textContent = `${backend} b${batch}`;
      try {
        result.rates[`b${batch}`] = await rate(model, batch);
      } catch (error) {
        result.rates[`b${batch}`] = { unavailable: `cannot train: ${error.message || error}` };
      }
    }
  } finally {
    model.dispose();
  }
  return result;
}

(async () => {
  const out = { version: tf.version.tfjs, cross_origin_isolated: self.crossOriginIsolated, backends: {} };
  for (const backend of backends) {
    try {
      out.backends[backend] = await measure(backend);
    } catch (error) {
      out.backends[backend] = { unavailable: String(error.message || error) };
    }
  }
  document.querySelector("[data-testid=result]").textContent = JSON.stringify(out);
  status.textContent = "done";
})().catch((error) => { status.textContent = `error: ${error.message || error}`; });
