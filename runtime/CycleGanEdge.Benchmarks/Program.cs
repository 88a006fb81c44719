using BenchmarkDotNet.Running;

// CYCLEGAN_BENCH_MODEL=model.onnx dotnet run -c Release --project runtime/CycleGanEdge.Benchmarks -- --filter '*'
// CYCLEGAN_BENCH_MODELS=g.onnx,g.fp16.onnx,g.int8.onnx dotnet run -c Release --project runtime/CycleGanEdge.Benchmarks -- --filter '*Precision*'
// dotnet run -c Release --project runtime/CycleGanEdge.Benchmarks -- --filter '*FmaPeak*'   (no model needed)
BenchmarkSwitcher.FromAssembly(typeof(CycleGanEdge.Benchmarks.FrameTranslationBenchmarks).Assembly).Run(args);
