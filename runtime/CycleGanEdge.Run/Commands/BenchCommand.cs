using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Bench;

namespace CycleGanEdge.Run.Commands;

/// <summary>cyclegan-run bench: model latency percentiles, images/s and achieved GFLOP/s against the machine's peak.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var model = SharedOptions.Model();
        var sizes = ListOption<int>("--sizes", "Square input sides, comma separated (rounded up to the model's spatial multiple)", "256", v => v >= 1);
        var batches = ListOption<int>("--batch", "Batch sizes, comma separated", "1", v => v >= 1);
        var threads = ListOption<int>("--threads", "Intra-op thread counts, comma separated (0 = ONNX Runtime decides)", "0", v => v >= 0);
        var providers = ListOption<string>("--provider", $"Providers, comma separated: {string.Join(", ", SessionFactory.ProviderNames)}", "cpu",
            p => SessionFactory.ProviderNames.Contains(p));
        var device = SharedOptions.DeviceId();
        var iterations = SharedOptions.AtLeastOne(new Option<int>("--iters") { Description = "Timed runs per configuration", DefaultValueFactory = _ => 20 });
        var warmup = SharedOptions.NonNegative(new Option<int>("--warmup") { Description = "Untimed runs first", DefaultValueFactory = _ => 3 });
        var noPeak = new Option<bool>("--no-peak") { Description = "Skip the peak probe (a 1024x1024 MatMul)" };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON instead of a table" };

        var command = new Command("bench", "Time the model: latency p50/p90/p99, images/s, GFLOP/s and share of the machine's peak")
        {
            model, sizes, batches, threads, providers, device, iterations, warmup, noPeak, json,
        };
        command.SetAction(parse =>
        {
            var io = parse.InvocationConfiguration;
            var settings = new BenchSettings
            {
                Sizes = parse.GetValue(sizes)!,
                Batches = parse.GetValue(batches)!,
                Threads = parse.GetValue(threads)!,
                Providers = parse.GetValue(providers)!,
                DeviceId = parse.GetValue(device),
                Iterations = parse.GetValue(iterations),
                Warmup = parse.GetValue(warmup),
                MeasurePeak = !parse.GetValue(noPeak),
            };
            string path = parse.GetValue(model)!.FullName;
            bool asJson = parse.GetValue(json);
            try
            {
                if (!asJson) io.Output.WriteLine(Header);
                var results = new List<BenchResult>();
                foreach (var r in ModelBenchmark.Run(path, settings, s => io.Error.WriteLine(s)))
                {
                    results.Add(r);
                    if (!asJson) io.Output.WriteLine(Row(r));
                }
                if (asJson) io.Output.WriteLine(ToJson(path, results));
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException)
            {
                io.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.UsageError;
            }
        });
        return command;
    }

    private const string Header =
        "provider threads   size batch    p50 ms    p90 ms    p99 ms   images/s  GMAC/img  GFLOP/s  peak GFLOP/s  of peak";

    private static string Row(BenchResult r)
    {
        var c = CultureInfo.InvariantCulture;
        string Opt(double? v, string format, int width) => (v is { } x ? x.ToString(format, c) : "-").PadLeft(width);
        return string.Create(c,
            $"{r.Provider,-8} {(r.Threads == 0 ? "auto" : r.Threads.ToString(c)),7} {r.Size,6} {r.Batch,5} {r.P50Ms,9:F2} {r.P90Ms,9:F2} {r.P99Ms,9:F2} {r.ImagesPerSecond,10:F2} " +
            $"{Opt(r.GigaMacsPerImage, "F2", 9)} {Opt(r.Gflops, "F1", 8)} {Opt(r.PeakGflops, "F1", 13)} {Opt(r.PeakFraction * 100, "F0", 7)}%");
    }

    private static string ToJson(string modelPath, List<BenchResult> results) =>
        JsonSerializer.Serialize(new
        {
            model = modelPath,
            processorCount = Environment.ProcessorCount,
            accelerator = SessionFactory.BuildAccelerator,
            results = results.Select(r => new
            {
                r.Provider, r.Threads, r.Size, r.Batch, r.Iterations, r.P50Ms, r.P90Ms, r.P99Ms, r.MeanMs, r.ImagesPerSecond,
                r.GigaMacsPerImage, r.Gflops, r.PeakGflops, r.PeakFraction,
            }),
        }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

    /// <summary>An option taking a comma-separated list ("--sizes 256,512"); repeating the option adds to it.</summary>
    private static Option<T[]> ListOption<T>(string name, string description, string defaultValue, Func<T, bool> isValid) where T : IParsable<T>
    {
        return new Option<T[]>(name)
        {
            Description = description + $" (default {defaultValue})",
            AllowMultipleArgumentsPerToken = false,
            CustomParser = r =>
            {
                var tokens = r.Tokens.Count == 0 ? [defaultValue] : r.Tokens.Select(t => t.Value);
                var values = new List<T>();
                foreach (string item in tokens.SelectMany(t => t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
                {
                    if (!T.TryParse(item, CultureInfo.InvariantCulture, out T? v) || !isValid(v))
                    {
                        r.AddError($"{name}: '{item}' is not a valid value");
                        return [];
                    }
                    values.Add(v);
                }
                if (values.Count == 0) r.AddError($"{name} needs at least one value");
                return [.. values];
            },
            DefaultValueFactory = r => [.. defaultValue.Split(',').Select(v => T.Parse(v, CultureInfo.InvariantCulture))],
        };
    }
}
