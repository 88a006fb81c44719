// Pure inference with onnxruntime-node, the yardstick of e2e_vs_ort_node.sh: no decode, no encode, no files.
//   node ort_node_infer.js MODEL SIZE IMAGES THREADS   -> prints "images/s <rate>"
const ort = require('onnxruntime-node');

async function main() {
  const [model, size, images, threads] = process.argv.slice(2);
  const side = Number(size), count = Number(images);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: Number(threads), interOpNumThreads: 1,
  });
  const data = new Float32Array(3 * side * side);
  for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
  const feeds = { input: new ort.Tensor('float32', data, [1, 3, side, side]) };
  await session.run(feeds); // warm-up: the first run allocates and prepacks
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await session.run(feeds);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`images/s ${(count / seconds).toFixed(3)}`);
}
main().catch(e => { console.error(e); process.exit(1); });
