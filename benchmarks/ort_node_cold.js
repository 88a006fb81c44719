// Cold start yardstick of cold_start.sh: onnxruntime-node from process start to one written output.
//   node ort_node_cold.js MODEL SIDE THREADS OUT   -> writes OUT (raw float32 NCHW), prints nothing
// It does less than cyclegan-run translate (no PNG decode/encode: node has no image codec without more packages),
// so it is a strict yardstick: same model, same size, same thread count.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, size, threads, out] = process.argv.slice(2);
  const side = Number(size);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: Number(threads), interOpNumThreads: 1,
  });
  const data = new Float32Array(3 * side * side);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 255) / 127.5 - 1;
  const result = await session.run({ input: new ort.Tensor('float32', data, [1, 3, side, side]) });
  fs.writeFileSync(out, Buffer.from(result.output.data.buffer));
}
main().catch(e => { console.error(e); process.exit(1); });
