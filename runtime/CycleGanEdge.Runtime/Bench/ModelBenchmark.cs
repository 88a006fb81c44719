using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace CycleGanEdge.Runtime.Bench;

public sealed record BenchSettings
{
    public IReadOnlyList<int> Sizes { get; init; } = [256];
    public IReadOnlyList<int> Batches { get; init; } = [1];
    /// <summary>Intra-op thread counts; 0 lets ONNX Runtime decide.</summary>
    public IReadOnlyList<int> Threads { get; init; } = [0];
    public IReadOnlyList<string> Providers { get; init; } = ["cpu"];
    public int DeviceId { get; init; }
    public int Iterations { get; init; } = 20;
    public int Warmup { get; init; } = 3;
    /// <summary>Also measure the provider's practical peak (a large MatMul) to rate the model against.</summary>
    public bool MeasurePeak { get; init; } = true;
}

/// <summary>One configuration's timings. Latencies are of one model run (a whole batch), in milliseconds.</summary>
public sealed record BenchResult(
    string Provider, int Threads, int Size, int Batch, int Iterations,
    double P50Ms, double P90Ms, double P99Ms, double MeanMs, double ImagesPerSecond,
    double? GigaMacsPerImage, double? Gflops, double? PeakGflops)
{
    /// <summary>Achieved GFLOP/s as a share of the probe's.</summary>
    public double? PeakFraction => Gflops / PeakGflops;
}

/// <summary>
/// Times the model alone: input filled once with seeded noise, output preallocated, both bound, so each
/// timed run is one native call (no pixel conversion, padding or image IO; those are in the video/translate numbers).
/// </summary>
public static class ModelBenchmark
{
    public static IEnumerable<BenchResult> Run(string modelPath, BenchSettings settings, Action<string>? status = null)
    {
        if (settings.Iterations < 1 || settings.Warmup < 0) throw new ArgumentException("--iters must be at least 1 and --warmup at least 0");
        foreach (string provider in settings.Providers)
            foreach (int threads in settings.Threads)
            {
                var options = new TranslatorOptions { Provider = provider, Threads = threads, DeviceId = settings.DeviceId };
                using var session = SessionFactory.Create(modelPath, options, out string actualProvider);
                var model = ModelInfo.FromSession(session, modelPath);
                var layers = GeneratorCost.Layers(model);
                double? peak = null;
                if (settings.MeasurePeak)
                {
                    status?.Invoke($"peak probe: {actualProvider}, threads {threads}");
                    peak = PeakProbe.MeasureGflops(options);
                }
                foreach (int size in settings.Sizes)
                    foreach (int batch in settings.Batches)
                    {
                        status?.Invoke($"{actualProvider}, threads {threads}, {size}px, batch {batch}");
                        yield return Measure(session, model, layers, actualProvider, threads, size, batch, settings, peak);
                    }
            }
    }

    private static BenchResult Measure(InferenceSession session, ModelInfo model, IReadOnlyList<ConvLayer>? layers,
        string provider, int threads, int size, int batch, BenchSettings settings, double? peak)
    {
        if (size < 1 || batch < 1) throw new ArgumentException("sizes and batch sizes must be positive");
        int side = (size + model.SpatialMultiple - 1) / model.SpatialMultiple * model.SpatialMultiple;
        var random = new Random(1);
        long[] inShape = model.IsUint8 ? [batch, side, side, model.ChannelsIn] : [batch, model.ChannelsIn, side, side];
        long[] outShape = model.IsUint8 ? [batch, side, side, model.ChannelsOut] : [batch, model.ChannelsOut, side, side];
        int inCount = checked(batch * side * side * model.ChannelsIn), outCount = checked(batch * side * side * model.ChannelsOut);
        OrtValue input, output;
        if (model.IsUint8)
        {
            var data = new byte[inCount];
            random.NextBytes(data);
            input = OrtValue.CreateTensorValueFromMemory(data, inShape);
            output = OrtValue.CreateTensorValueFromMemory(new byte[outCount], outShape);
        }
        else
        {
            var data = new float[inCount];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
            input = OrtValue.CreateTensorValueFromMemory(data, inShape);
            output = OrtValue.CreateTensorValueFromMemory(new float[outCount], outShape);
        }
        using (input)
        using (output)
        using (var binding = session.CreateIoBinding())
        using (var run = new RunOptions())
        {
            binding.BindInput(ModelContract.InputName, input);
            binding.BindOutput(ModelContract.OutputName, output);
            for (int i = 0; i < settings.Warmup; i++) session.RunWithBinding(run, binding);
            var ms = new double[settings.Iterations];
            for (int i = 0; i < ms.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                session.RunWithBinding(run, binding);
                ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(ms);
            double mean = ms.Average();
            double? gmacs = layers is null ? null : GeneratorCost.MultiplyAccumulates(layers, side, side) / 1e9;
            double? gflops = gmacs * 2 * batch / (mean / 1000);
            return new BenchResult(provider, threads, side, batch, ms.Length,
                Percentile(ms, 0.50), Percentile(ms, 0.90), Percentile(ms, 0.99), mean, batch / (mean / 1000),
                gmacs, gflops, peak);
        }
    }

    /// <summary>Linear interpolation between the closest ranks of sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) throw new ArgumentException("no values");
        double rank = p * (sorted.Count - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
