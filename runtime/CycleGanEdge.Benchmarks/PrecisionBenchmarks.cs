using BenchmarkDotNet.Attributes;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Benchmarks;

/// <summary>
/// One model run (bound input and output, one native call) of several exports of the same generator, e.g. its
/// fp32, fp16 and int8 files, named by CYCLEGAN_BENCH_MODELS (comma separated), at CYCLEGAN_BENCH_SIZE pixels
/// (default: the model's training size). A parameter has no baseline in BenchmarkDotNet, so the ratios to fp32 are
/// worked out from the Mean column (benchmarks/RESULTS.md); `cyclegan-run bench -m A -m B` prints them directly.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class PrecisionBenchmarks
{
    private InferenceSession _session = null!;
    private OrtIoBinding _binding = null!;
    private OrtValue _input = null!, _output = null!;
    private RunOptions _runOptions = null!;

    /// <summary>Empty when unset: BenchmarkDotNet lists every class's parameters, also when a filter runs another class.</summary>
    private static string[] ModelPaths() =>
        (Environment.GetEnvironmentVariable("CYCLEGAN_BENCH_MODELS") ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>File names only: BenchmarkDotNet's table shortens long parameter values until paths look alike.</summary>
    public static IEnumerable<string> Models() => ModelPaths().Select(Path.GetFileName)!;

    [ParamsSource(nameof(Models))]
    public string Model { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        string path = ModelPaths().FirstOrDefault(p => Path.GetFileName(p) == Model)
            ?? throw new InvalidOperationException("set CYCLEGAN_BENCH_MODELS to exported generators, comma separated (fp32 first)");
        _session = SessionFactory.Create(path, new TranslatorOptions { Provider = "cpu" }, out _);
        var info = ModelInfo.FromSession(_session, path);
        int size = int.TryParse(Environment.GetEnvironmentVariable("CYCLEGAN_BENCH_SIZE"), out int s) ? s : info.TrainSize;
        int side = (size + info.Descriptor.SpatialMultiple - 1) / info.Descriptor.SpatialMultiple * info.Descriptor.SpatialMultiple;
        var random = new Random(1);
        if (info.IsUint8)
        {
            var data = new byte[side * side * info.Descriptor.ChannelsIn];
            random.NextBytes(data);
            _input = OrtValue.CreateTensorValueFromMemory(data, [1, side, side, info.Descriptor.ChannelsIn]);
            _output = OrtValue.CreateTensorValueFromMemory(new byte[side * side * info.Descriptor.ChannelsOut], [1, side, side, info.Descriptor.ChannelsOut]);
        }
        else
        {
            var data = new float[side * side * info.Descriptor.ChannelsIn];
            for (int i = 0; i < data.Length; i++) data[i] = random.NextSingle() * 2 - 1;
            _input = OrtValue.CreateTensorValueFromMemory(data, [1, info.Descriptor.ChannelsIn, side, side]);
            _output = OrtValue.CreateTensorValueFromMemory(new float[side * side * info.Descriptor.ChannelsOut], [1, info.Descriptor.ChannelsOut, side, side]);
        }
        _binding = _session.CreateIoBinding();
        _binding.BindInput(ModelContract.InputName, _input);
        _binding.BindOutput(ModelContract.OutputName, _output);
        _runOptions = new RunOptions();
    }

    [Benchmark]
    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    [GlobalCleanup]
    public void Cleanup()
    {
        _binding.Dispose();
        _input.Dispose();
        _output.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }
}
