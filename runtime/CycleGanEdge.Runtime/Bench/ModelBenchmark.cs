using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Core;

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
    /// <summary>Also measure the cores' float32 FMA peak (<see cref="FmaProbe"/>) to rate the model against.</summary>
    public bool MeasurePeak { get; init; } = true;
    /// <summary>
    /// Comparing models: each round times every model <see cref="Iterations"/> times in turn, so a load that comes
    /// and goes (other processes) spreads over all of them instead of falling on one.
    /// </summary>
    public int Rounds { get; init; } = 1;
    /// <summary>
    /// ONNX Runtime graph optimisations: null is what cyclegan-run uses (all, which includes the NCHWc layout
    /// transformer); basic or extended show what the higher levels buy (CPU provider only).
    /// </summary>
    public GraphOptimizationLevel? GraphOptimization { get; init; }
    /// <summary>Write each model session's ONNX Runtime per-operator profile into this folder (see <see cref="OrtProfile"/>).</summary>
    public string? ProfileDirectory { get; init; }
}

/// <summary>One configuration's timings. Latencies are of one model run (a whole batch), in milliseconds.</summary>
public sealed record BenchResult(
    string Provider, int Threads, int Size, int Batch, int Iterations,
    double P50Ms, double P90Ms, double P99Ms, double MeanMs, double ImagesPerSecond,
    double? GigaMacsPerImage, double? Gflops, FmaPeak? Peak)
{
    /// <summary>The measured FMA peak of the cores this run's threads can use.</summary>
    public double? PeakGflops => Peak?.For(Threads);

    /// <summary>Achieved GFLOP/s as a share of the measured FMA peak.</summary>
    public double? PeakFraction => Gflops / PeakGflops;
}

/// <summary>One model's result in a comparison, with its throughput relative to the first model's (from median latencies).</summary>
/// <param name="Layers">The convolutions its work was counted from (<see cref="GeneratorCost"/>); null for an unknown architecture.</param>
public sealed record ComparedResult(string ModelPath, string Precision, BenchResult Result, double RatioToFirst, ModelInfo Model,
    IReadOnlyList<ConvLayer>? Layers = null);

/// <summary>
/// Times the model alone: input filled once with seeded noise, output preallocated, both bound, so each
/// timed run is one native call (no pixel conversion, padding or image IO; those are in the video/translate numbers).
/// </summary>
public static class ModelBenchmark
{
    public static IEnumerable<BenchResult> Run(string modelPath, BenchSettings settings, Action<string>? status = null) =>
        Compare([modelPath], settings, status).Select(r => r.Result);

    /// <summary>
    /// Every configuration for every model, the models interleaved round by round (see <see cref="BenchSettings.Rounds"/>);
    /// yields one result per model and configuration, the first model's first.
    /// </summary>
    public static IEnumerable<ComparedResult> Compare(IReadOnlyList<string> modelPaths, BenchSettings settings, Action<string>? status = null)
    {
        if (settings.Iterations < 1 || settings.Warmup < 0) throw new ArgumentException("--iters must be at least 1 and --warmup at least 0");
        if (settings.Rounds < 1) throw new ArgumentException("--rounds must be at least 1");
        if (modelPaths.Count == 0) throw new ArgumentException("no model to benchmark");
        // Each model's layers once: telling its upsampling reads the whole graph from the file.
        var layersOf = new Dictionary<string, IReadOnlyList<ConvLayer>?>();
        foreach (string provider in settings.Providers)
            foreach (int threads in settings.Threads)
            {
                var options = new TranslatorOptions { Provider = provider, Threads = threads, DeviceId = settings.DeviceId };
                var sessions = new List<(string Path, InferenceSession Session, ModelInfo Model, string Provider)>();
                try
                {
                    foreach (string path in modelPaths)
                    {
                        var profiled = settings.ProfileDirectory is null ? options
                            : options with { ProfilePrefix = Path.Combine(settings.ProfileDirectory, $"{Path.GetFileNameWithoutExtension(path)}-{provider}-threads{threads}") };
                        var session = OpenSession(path, profiled, settings.GraphOptimization, out string actualProvider);
                        var model = ModelInfo.FromSession(session, path);
                        if (!layersOf.ContainsKey(path)) layersOf[path] = GeneratorCost.Layers(model.Descriptor);
                        sessions.Add((path, session, model, actualProvider));
                    }
                    foreach (int size in settings.Sizes)
                        foreach (int batch in settings.Batches)
                        {
                            if (size < 1 || batch < 1) throw new ArgumentException("sizes and batch sizes must be positive");
                            var runs = sessions.Select(s => new BoundRun(s.Session, s.Model, size, batch)).ToList();
                            try
                            {
                                var timings = runs.Select(_ => new List<double>()).ToList();
                                var peaks = new List<FmaPeak>();
                                for (int round = 0; round < settings.Rounds; round++)
                                {
                                    // The probe takes its turn in every round, like the models: a quiet moment in any round shows the peak.
                                    // It is the CPU's peak, so GPU providers are not rated against it.
                                    if (settings.MeasurePeak && sessions[0].Provider == "cpu")
                                    {
                                        status?.Invoke($"FMA peak probe: {FmaProbe.Isa ?? "no vector FMA"}, round {round + 1}");
                                        if (FmaProbe.Measure() is { } p) peaks.Add(p);
                                    }
                                    for (int m = 0; m < runs.Count; m++)
                                    {
                                        status?.Invoke($"{Path.GetFileName(sessions[m].Path)}: {sessions[m].Provider}, threads {threads}, {runs[m].Side}px, batch {batch}" +
                                            (settings.Rounds > 1 ? $", round {round + 1}/{settings.Rounds}" : ""));
                                        runs[m].Run(settings.Warmup);
                                        timings[m].AddRange(runs[m].Time(settings.Iterations));
                                    }
                                }
                                // A peak is a bound: the best round is the closest look at it.
                                FmaPeak? peak = peaks.MaxBy(p => p.AllCoresGflops);
                                BenchResult? first = null;
                                for (int m = 0; m < runs.Count; m++)
                                {
                                    var s = sessions[m];
                                    var result = Summarize(timings[m], layersOf[s.Path], s.Provider, threads, runs[m].Side, batch, peak);
                                    first ??= result;
                                    yield return new ComparedResult(s.Path, PrecisionOf(s.Model), result, first.P50Ms / result.P50Ms, s.Model, layersOf[s.Path]);
                                }
                            }
                            finally
                            {
                                foreach (var run in runs) run.Dispose();
                            }
                        }
                }
                finally
                {
                    foreach (var s in sessions)
                    {
                        if (settings.ProfileDirectory is not null) s.Session.EndProfiling(); // writes the JSON file
                        s.Session.Dispose();
                    }
                }
            }
    }

    /// <summary>fp32, fp16, or int8 for a quantized model (whose float parts are fp32).</summary>
    public static string PrecisionOf(ModelInfo model) =>
        model.Metadata.GetValueOrDefault(ModelContract.QuantizationKey) == ModelContract.QuantizationInt8Qdq ? "int8" : model.Precision;

    private static InferenceSession OpenSession(string path, TranslatorOptions options, GraphOptimizationLevel? level, out string provider)
    {
        if (level is null) return SessionFactory.Create(path, options, out provider);
        if (options.Provider is not ("cpu" or "auto"))
            throw new ArgumentException("--graph-opt applies to the cpu provider only");
        // A bench-only level: cyclegan-run always optimises fully; this shows what each level contributes.
        return SessionFactory.Create(path, options with { Provider = "cpu" }, out provider, graphOptimization: level.Value);
    }

    private static BenchResult Summarize(List<double> timings, IReadOnlyList<ConvLayer>? layers, string provider, int threads, int side, int batch, FmaPeak? peak)
    {
        var ms = timings.ToArray();
        Array.Sort(ms);
        double mean = ms.Average();
        double? gmacs = layers is null ? null : GeneratorCost.MultiplyAccumulates(layers, side, side) / 1e9;
        double? gflops = gmacs * 2 * batch / (mean / 1000);
        return new BenchResult(provider, threads, side, batch, ms.Length,
            Percentile(ms, 0.50), Percentile(ms, 0.90), Percentile(ms, 0.99), mean, batch / (mean / 1000),
            gmacs, gflops, peak);
    }

    /// <summary>Input and output of one size and batch, filled and bound once; each timed run is one native call.</summary>
    private sealed class BoundRun : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly OrtValue _input, _output;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _runOptions = new();

        public BoundRun(InferenceSession session, ModelInfo model, int size, int batch)
        {
            _session = session;
            Side = (size + model.Descriptor.SpatialMultiple - 1) / model.Descriptor.SpatialMultiple * model.Descriptor.SpatialMultiple;
            var random = new Random(1);
            long[] inShape = model.IsUint8 ? [batch, Side, Side, model.Descriptor.ChannelsIn] : [batch, model.Descriptor.ChannelsIn, Side, Side];
            long[] outShape = model.IsUint8 ? [batch, Side, Side, model.Descriptor.ChannelsOut] : [batch, model.Descriptor.ChannelsOut, Side, Side];
            int inCount = checked(batch * Side * Side * model.Descriptor.ChannelsIn), outCount = checked(batch * Side * Side * model.Descriptor.ChannelsOut);
            if (model.IsUint8)
            {
                var data = new byte[inCount];
                random.NextBytes(data);
                _input = OrtValue.CreateTensorValueFromMemory(data, inShape);
                _output = OrtValue.CreateTensorValueFromMemory(new byte[outCount], outShape);
            }
            else
            {
                var data = new float[inCount];
                for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
                _input = OrtValue.CreateTensorValueFromMemory(data, inShape);
                _output = OrtValue.CreateTensorValueFromMemory(new float[outCount], outShape);
            }
            _binding = session.CreateIoBinding();
            _binding.BindInput(ModelContract.InputName, _input);
            _binding.BindOutput(ModelContract.OutputName, _output);
        }

        public int Side { get; }

        public void Run(int times)
        {
            for (int i = 0; i < times; i++) _session.RunWithBinding(_runOptions, _binding);
        }

        public double[] Time(int iterations)
        {
            var ms = new double[iterations];
            for (int i = 0; i < ms.Length; i++)
            {
                long start = Stopwatch.GetTimestamp();
                _session.RunWithBinding(_runOptions, _binding);
                ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            return ms;
        }

        public void Dispose()
        {
            _binding.Dispose();
            _input.Dispose();
            _output.Dispose();
            _runOptions.Dispose();
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
