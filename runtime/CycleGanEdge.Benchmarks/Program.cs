using BenchmarkDotNet.Running;

// CYCLEGAN_BENCH_MODEL=model.onnx dotnet run -c Release --project runtime/CycleGanEdge.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(CycleGanEdge.Benchmarks.FrameTranslationBenchmarks).Assembly).Run(args);
