// The command fuzzer for tests/browser/test_faults_commands.py, evaluated in a same-origin
// document. It starts the real training worker, records everything it posts, and builds seeded,
// reproducible junk messages: each one invalid by construction, with the field its error must name.
(() => {
  const COMMANDS = {
    // type: {field: a valid value}; fields not listed in `required` are optional
    start: {}, stop: {}, status: {}, evaluate: {},
    set_weights: { weights: () => validWeights() },
    set_batch_size: { batch_size: () => 64 },
    set_learning_rate: { lrate: () => 0.05 },
    set_lr_decay: { lr_decay: () => 0.5 },
    set_cache_size: { cache_size: () => 8 },
    set_optimizer: { optimizer: () => "adam" },
    set_augment: { augment: () => true },
    reset: { hidden: () => [32, 16], seed: () => 3 },
    train_drawing: { pixels: () => new Float32Array(784).fill(0.5), label: () => 4 },
  };
  const OPTIONAL = new Set(["hidden", "seed"]);
  const TYPES = Object.keys(COMMANDS);

  function mulberry32(seed) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function validWeights() {
    const h = 4;
    return {
      W1: { shape: [784, h], data: new Float32Array(784 * h) }, b1: { shape: [h], data: new Float32Array(h) },
      W2: { shape: [h, 10], data: new Float32Array(h * 10) }, b2: { shape: [10], data: new Float32Array(10) },
    };
  }

  function deep(depth, leaf, asObject) {
    let value = leaf;
    for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
    return value;
  }

  function makeFuzzer(seed) {
    const rand = mulberry32(seed);
    const int = (n) => Math.floor(rand() * n);
    const pick = (list) => list[int(list.length)];
    const junkString = () => {
      const alphabet = ["a", "Z", "_", " ", "\0", "é", "😀", "<", ">", "\"", "'", "\n", "start", "type", "{", "}"];
      let s = "";
      for (let i = int(12); i > 0; i--) s += pick(alphabet);
      return s;
    };
    // Values that are valid for no field of any command.
    const anyJunk = (depth = 0) => {
      const leaves = [
        () => null, () => undefined, () => NaN, () => Infinity, () => -Infinity, () => -0, () => 1e308,
        () => -1e308, () => Number.MIN_VALUE, () => true, () => false, () => junkString(), () => "",
        () => 2 ** 53, () => -(2 ** 31), () => rand() * 1e6 - 5e5, () => 10n ** 30n, () => -5n,
        () => new Date(int(1e12)), () => /x+/g, () => new ArrayBuffer(int(64)), () => new Uint8Array(int(16)),
        () => new Float64Array(3).fill(NaN), () => new BigInt64Array(2), () => new Blob(["x"]),
        () => new Error("junk"), () => new Map([[junkString(), 1]]), () => new Set([1, "a"]),
      ];
      if (depth < 3 && rand() < 0.3) {
        return rand() < 0.5
          ? Array.from({ length: int(4) }, () => anyJunk(depth + 1))
          : Object.fromEntries(Array.from({ length: int(4) }, () => [junkString(), anyJunk(depth + 1)]));
      }
      return pick(leaves)();
    };
    const intJunk = (lo, hi, optional) => pick([
      () => lo - 1, () => hi + 1, () => 1.5, () => lo + 0.25, () => NaN, () => Infinity, () => -Infinity,
      () => 1e308, () => true, () => false, () => String(lo + 1), () => [lo + 1], () => ({ v: lo + 1 }),
      () => 2n ** 70n, () => new Date(), () => new Uint8Array(1), () => 2 ** 53 + 2,
      ...(optional ? [] : [() => null]), ...(lo > 0 ? [() => -0, () => 0] : []),
    ])();
    const floatJunk = (hi) => pick([
      () => 0, () => -0, () => -0.1, () => NaN, () => Infinity, () => -Infinity, () => hi + 0.5, () => 1e308,
      () => true, () => false, () => null, () => "0.1", () => [0.1], () => ({}), () => 2n ** 1100n,
      () => new Float32Array([0.1]),
    ])();
    const pixelsJunk = () => pick([
      () => new Float32Array(783), () => new Float32Array(785), () => new Float32Array(784).fill(NaN),
      () => new Float32Array(784).fill(2), () => new Float64Array(784).fill(-1), () => new Uint8Array(784).fill(255),
      () => new Float32Array(784).fill(Infinity), () => Array(784).fill("0"), () => Array(784).fill(true),
      () => Array(784).fill(null), () => new ArrayBuffer(3135), () => "0".repeat(784), () => null, () => ({}),
      () => Array.from({ length: 28 }, () => Array(28).fill(0)), () => new Blob([new Float32Array(784)]),
      () => new Float32Array(int(5000)).fill(0.5).subarray(0, 10), () => 0.5,
    ])();
    const weightsJunk = () => {
      const good = validWeights();
      const name = pick(["W1", "b1", "W2", "b2"]);
      const choices = [
        () => [good.W1], () => ({}), () => null, () => "weights", () => ({ ...good, W0: good.W1 }),
        () => ({ ...good, notes: good.b1 }), () => ({ ...good, [name]: [1, 2, 3] }),
        () => ({ ...good, [name]: { ...good[name], extra: 1 } }),
        () => ({ ...good, [name]: { data: good[name].data } }), () => ({ ...good, [name]: { shape: good[name].shape } }),
        () => ({ ...good, [name]: { ...good[name], data: new Float32Array(good[name].data.length).fill(NaN) } }),
        () => ({ ...good, [name]: { ...good[name], data: new Float32Array(good[name].data.length + 1) } }),
        () => ({ ...good, [name]: { ...good[name], shape: [1e9, 1e9].slice(0, good[name].shape.length) } }),
        () => ({ ...good, [name]: { ...good[name], shape: good[name].shape.map(() => -1) } }),
        () => ({ ...good, [name]: { ...good[name], shape: good[name].shape.map(() => 2.5) } }),
        () => ({ ...good, [name]: { ...good[name], shape: [...good[name].shape, 1] } }),
        () => ({ ...good, [name]: { ...good[name], data: "1,2,3" } }),
        () => ({ ...good, [name]: { ...good[name], data: Array(good[name].data.length).fill(Infinity) } }),
        () => ({ ...good, [name]: { ...good[name], data: new Float64Array(good[name].data.length).fill(1e300) } }),
        // Shapes that parse but do not chain or do not fit the network: refused by the trainer.
        () => ({ ...good, W1: { shape: [783, 4], data: new Float32Array(783 * 4) } }),
        () => ({ ...good, W2: { shape: [4, 11], data: new Float32Array(44) }, b2: { shape: [11], data: new Float32Array(11) } }),
        () => ({ ...good, b1: { shape: [5], data: new Float32Array(5) } }),
        () => ({ W1: good.W1, b1: good.b1 , W3: good.W2, b3: good.b2 }),
        () => ({ W1: good.W1, b1: good.b1 }),
      ];
      return choices[int(choices.length)]();
    };
    const fieldJunk = (field) => {
      switch (field) {
        case "batch_size": return intJunk(1, 4096, false);
        case "cache_size": return intJunk(1, 1024, false);
        case "hidden": return pick([  // a list of 1-8 layers (widths of 1..4096, or conv/pool texts) is valid
          () => 0, () => 4097, () => 1.5, () => NaN, () => Infinity, () => true, () => "32", () => ({ v: 2 }),
          () => 2n ** 70n, () => new Date(), () => new Uint8Array(1), () => 2 ** 53 + 2, () => [], () => [0], () => [32, 4097], () => [1.5], () => [32, "16"],
          () => "256,128", () => Array(9).fill(4), () => [[32]], () => [null], () => [true],
          () => new Int32Array([32]), () => ({ 0: 32, length: 1 }),
          // convolutions and pooling: c16:5,p2 before dense layers is valid; these are not
          () => ["c0:5"], () => ["c16:5", 128, "c8:3"], () => ["p3"], () => ["c16:5:sam"], () => ["c16:4:same"],
          () => ["c16:99"], () => ["c300:5"], () => ["p2", "p2", "p2", "p2", "p2"], () => ["c16:5" + "5".repeat(40)],
        ])();
        case "augment": return pick([() => 1, () => 0, () => "true", () => null, () => [true], () => NaN,
          () => ({}), () => new Boolean(true)])();
        case "seed": return intJunk(0, 2 ** 32 - 1, true);
        case "label": return intJunk(0, 9, false);
        case "lrate": return floatJunk(10);
        case "lr_decay": return floatJunk(1);
        case "optimizer": return pick([() => "rmsprop", () => "SGD", () => "", () => "adam ", () => 1, () => null,
          () => ["adam"], () => junkString() + "x"])();
        case "pixels": return pixelsJunk();
        case "weights": return weightsJunk();
        default: throw new Error(field);
      }
    };
    const validFields = (type) => Object.fromEntries(
      Object.entries(COMMANDS[type]).filter(([f]) => !OPTIONAL.has(f) || rand() < 0.5).map(([f, make]) => [f, make()]));

    let nextId = 1_000_000 + seed * 100_000;
    // Each case: {message, id (the reply_to to expect, or null), field (the field to name, or a prefix), label}.
    const cases = [
      () => {  // not an object at all
        const value = pick([
          () => null, () => undefined, () => 0, () => -0, () => NaN, () => 1e308, () => true, () => "start",
          () => junkString(), () => ["start"], () => [{ type: "start" }], () => new ArrayBuffer(16),
          () => new Float32Array([1, 2]), () => new Uint8Array(0), () => new Date(), () => new Blob(["{\"type\":\"start\"}"]),
          () => new Set(["start"]), () => 5n, () => new Error("start"), () => /start/, () => new DataView(new ArrayBuffer(4)),
          () => new Boolean(true), () => new Number(3),
        ])();
        return { message: value, id: null, field: "command", label: `non-object ${Object.prototype.toString.call(value)}` };
      },
      () => {  // a Map: becomes a dict, but with a junk type
        const id = nextId++;
        return { message: new Map([["type", pick(["explode", 3, null])], ["id", id]]), id, field: "type", label: "Map" };
      },
      () => {  // unknown, missing or mistyped type
        const id = rand() < 0.7 ? nextId++ : null;
        const message = rand() < 0.2 ? { batch_size: 5 } : {
          type: pick([() => "explode", () => "START", () => " start", () => "start\0", () => 1, () => null,
            () => ["start"], () => ({ type: "start" }), () => true, () => junkString() + "!", () => "__proto__",
            () => "constructor", () => "toString"])(),
        };
        if (id !== null) message.id = id;
        return { message, id, field: "type", label: `type ${String(message.type)}` };
      },
      () => {  // an unexpected field
        const type = pick(TYPES);
        const id = rand() < 0.7 ? nextId++ : null;
        const extra = pick(["force", "constructor", "toString", "hasOwnProperty", "Type", "ID", "batchsize",
          "weight", "x".repeat(1 + int(300)), "😀", " ", "valueOf"]);
        const message = { type, ...validFields(type), [extra]: anyJunk() };
        if (id !== null) message.id = id;
        return { message, id, field: extra, label: `extra field ${extra.slice(0, 20)} on ${type}` };
      },
      () => {  // a required field missing
        const type = pick(["set_weights", "set_batch_size", "set_learning_rate", "set_lr_decay", "set_cache_size",
          "set_optimizer", "set_augment", "train_drawing"]);
        const id = rand() < 0.7 ? nextId++ : null;
        const message = { type, ...validFields(type) };
        const missing = pick(Object.keys(COMMANDS[type]));
        delete message[missing];
        if (id !== null) message.id = id;
        return { message, id, field: missing, label: `missing ${missing} on ${type}` };
      },
      () => {  // one field invalid
        const type = pick(TYPES.filter((t) => Object.keys(COMMANDS[t]).length));
        const field = pick(Object.keys(COMMANDS[type]));
        const id = rand() < 0.7 ? nextId++ : null;
        const message = { type, ...validFields(type), [field]: fieldJunk(field) };
        if (id !== null) message.id = id;
        return { message, id, field, label: `bad ${field} on ${type}` };
      },
      () => {  // an invalid id on an otherwise valid command: no reply_to can be trusted
        const type = pick(TYPES);
        const message = { type, ...validFields(type), id: intJunk(0, 2 ** 53 - 1, true) };
        if (message.id === undefined) message.id = -1;
        return { message, id: null, field: "id", label: `bad id ${String(message.id)} on ${type}` };
      },
      () => {  // deep nesting, as the message or inside a field
        const depth = 50 + int(950);
        const id = nextId++;
        const where = int(4);
        if (where === 3) {  // below the converted depth, an object whose toString cannot be called
          const leaf = { toString: "not a function", valueOf: 1 };
          return { message: { type: "set_optimizer", optimizer: deep(depth % 20 + 8, leaf, true), id }, id, field: "optimizer", label: `unprintable optimizer ${depth % 20 + 8}` };
        }
        if (where === 0) {
          const asObject = rand() < 0.5;  // nested objects are dicts without a type; arrays are not dicts
          return { message: deep(depth, 1, asObject), id: null, field: asObject ? "type" : "command", label: `nested ${depth}` };
        }
        if (where === 1) return { message: { type: "set_optimizer", optimizer: deep(depth, "adam", false), id }, id, field: "optimizer", label: `nested optimizer ${depth}` };
        return { message: { type: "stop", junk: deep(depth, null, true), id }, id, field: "junk", label: `nested extra ${depth}` };
      },
    ];
    return () => pick(cases)();
  }

  // A handful of very large payloads (multi-MB), not random: each is sent once per run.
  function largeCases(firstId) {
    let id = firstId;
    const big = "x".repeat(8 << 20);
    return [
      { message: { type: big, id: id++ }, id: id - 1, field: "type", label: "8 MB type" },
      { message: { type: "start", note: big, id: id++ }, id: id - 1, field: "note", label: "8 MB extra field" },
      { message: { type: "set_optimizer", optimizer: big, id: id++ }, id: id - 1, field: "optimizer", label: "8 MB optimizer" },
      { message: { type: "train_drawing", pixels: new Float32Array(4 << 20), label: 1, id: id++ }, id: id - 1, field: "pixels", label: "16 MB pixels" },
      { message: { type: "train_drawing", pixels: Array(1 << 20).fill(0.5), label: 1, id: id++ }, id: id - 1, field: "pixels", label: "1M-element pixels array" },
      { message: { type: "set_weights", weights: { W1: { shape: [784, 4096], data: new Float32Array(784 * 4096 - 1) } }, id: id++ }, id: id - 1, field: "weights.W1.data", label: "12 MB W1 one value short" },
      { message: { type: "set_weights", weights: { W1: { shape: [784, 128], data: new Float32Array(784 * 128).fill(NaN) }, b1: { shape: [128], data: new Float32Array(128) }, W2: { shape: [128, 10], data: new Float32Array(1280) }, b2: { shape: [10], data: new Float32Array(10) } }, id: id++ }, id: id - 1, field: "weights.W1.data", label: "full-size NaN weights" },
      { message: new ArrayBuffer(32 << 20), id: null, field: "command", label: "32 MB ArrayBuffer" },
      { message: Array(1 << 20).fill("start"), id: null, field: "command", label: "1M-element array" },
    ];
  }

  window.inklingFuzz = {
    messages: [],  // everything the worker posted, weights kept only on replies
    replies: {},   // reply_to -> the signal (with weights) that answered it
    worker: null,
    start(workerUrl) {
      const worker = new Worker(workerUrl, { type: "module" });
      this.worker = worker;
      worker.onmessage = (event) => {
        const data = event.data;
        if (data && data.type === "signal") {
          if (data.reply_to !== null) this.replies[data.reply_to] = data;
          const { weights, ...rest } = data;
          this.messages.push(rest);
        } else {
          this.messages.push(data);
        }
      };
      worker.onerror = (event) => this.messages.push({ type: "worker-onerror", message: String(event.message) });
      worker.onmessageerror = () => this.messages.push({ type: "worker-messageerror" });
    },
    // Send `count` random cases (plus the large ones if asked); return their expectations.
    fuzz(seed, count, withLarge) {
      const next = makeFuzzer(seed);
      const sent = [];
      const all = [];
      for (let i = 0; i < count; i++) all.push(next());
      if (withLarge) all.push(...largeCases(9_000_000 + seed * 1000));
      for (const item of all) {
        try {
          this.worker.postMessage(item.message);
        } catch (error) {  // not cloneable: never reaches the worker, so it expects no reply
          sent.push({ label: item.label, id: null, field: null, unsent: String(error) });
          continue;
        }
        sent.push({ label: item.label, id: item.id, field: item.field });
      }
      return sent;
    },
    send(message) { this.worker.postMessage(message); },
    count() { return this.messages.length; },
    // The messages from index `from` on, as plain data (signals without weights).
    since(from) { return this.messages.slice(from); },
    reply(id) {
      const reply = this.replies[id];
      if (!reply) return null;
      const { weights, ...rest } = reply;
      return rest;
    },
    // A fingerprint of a reply's weights: shapes and every bit of every value.
    weightsOf(replyTo) {
      const reply = this.replies[replyTo];
      if (!reply || !reply.weights) return null;
      const out = {};
      for (const [name, { shape, data }] of Object.entries(reply.weights)) {
        const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
        let hash = 2166136261;
        for (let i = 0; i < words.length; i++) hash = Math.imul(hash ^ words[i], 16777619) >>> 0;
        out[name] = { shape: Array.from(shape), hash, n: words.length };
      }
      return out;
    },
  };
})();
