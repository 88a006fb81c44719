using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Bench;

namespace CycleGanEdge.Run.Commands;

/// <summary>
/// cyclegan-run bench: model latency percentiles, images/s and achieved GFLOP/s against the cores' measured FMA peak;
/// with several -m, one table comparing them (e.g. fp32, fp16 and int8 exports of one generator), interleaved.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        // Like SharedOptions.Model(), but repeatable: several models are compared in one table.
        var model = new Option<FileInfo[]>("--model", "-m")
        {
            Description = "Exported generator (.onnx); repeat to compare models in one table (throughput relative to the first)",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        }.AcceptExistingOnly();
        var sizes = ListOption<int>("--sizes", "Square input sides, comma separated (rounded up to the model's spatial multiple)", "256", v => v >= 1);
        var batches = ListOption<int>("--batch", "Batch sizes, comma separated", "1", v => v >= 1);
        var threads = ListOption<int>("--threads", "Intra-op thread counts, comma separated (0 = ONNX Runtime decides)", "0", v => v >= 0);
        var providers = ListOption<string>("--provider", $"Providers, comma separated: {string.Join(", ", SessionFactory.ProviderNames)}", "cpu",
            p => SessionFactory.ProviderNames.Contains(p));
        var device = SharedOptions.DeviceId();
        var iterations = SharedOptions.AtLeastOne(new Option<int>("--iters") { Description = "Timed runs per configuration", DefaultValueFactory = _ => 20 });
        var warmup = SharedOptions.NonNegative(new Option<int>("--warmup") { Description = "Untimed runs first", DefaultValueFactory = _ => 3 });
        var noPeak = new Option<bool>("--no-peak") { Description = "Skip the FMA peak probe (vector FMA throughput of one core and of all cores)" };
        var rounds = SharedOptions.AtLeastOne(new Option<int>("--rounds")
        {
            Description = "Repeat the timed runs this many times, the models taking turns (a passing load then spreads over all of them)",
            DefaultValueFactory = _ => 1,
        });
        var graphOpt = new Option<string>("--graph-opt")
        {
            Description = "ONNX Runtime graph optimisations (cpu): all is what cyclegan-run uses (with the NCHWc layout); the others show what it buys",
            DefaultValueFactory = _ => "all",
        }.AcceptOnlyFromAmong("none", "basic", "extended", "all");
        var json = new Option<bool>("--json") { Description = "Print the results as JSON instead of a table" };
        var profile = new Option<DirectoryInfo?>("--profile")
        {
            Description = "Write ONNX Runtime's per-operator profile of each model into this folder and print time per operator type",
        }.WritableFolder();

        var command = new Command("bench", "Time the model: latency p50/p90/p99, images/s, GFLOP/s and share of the cores' measured FMA peak")
        {
            model, sizes, batches, threads, providers, device, iterations, warmup, noPeak, rounds, graphOpt, json, profile,
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
                Rounds = parse.GetValue(rounds),
                GraphOptimization = parse.GetValue(graphOpt) switch
                {
                    "none" => GraphOptimizationLevel.ORT_DISABLE_ALL,
                    "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                    "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                    _ => null,
                },
                ProfileDirectory = parse.GetValue(profile)?.FullName,
            };
            if (settings.ProfileDirectory is not null) Directory.CreateDirectory(settings.ProfileDirectory);
            var started = DateTime.UtcNow;
            string[] paths = [.. parse.GetValue(model)!.Select(f => f.FullName)];
            bool compare = paths.Length > 1;
            bool asJson = parse.GetValue(json);
            try
            {
                if (!asJson) io.Output.WriteLine(compare ? CompareHeader : Header);
                var results = new List<ComparedResult>();
                foreach (var r in ModelBenchmark.Compare(paths, settings, s => io.Error.WriteLine(s)))
                {
                    results.Add(r);
                    if (!asJson) io.Output.WriteLine(compare ? CompareRow(r) : Row(r));
                }
                // Under the table: the peak the "of peak" column divides by, measured against its theoretical value.
                if (!asJson)
                {
                    foreach (var peak in results.Select(r => r.Result.Peak).OfType<FmaPeak>().Distinct())
                        io.Output.WriteLine(peak.Describe());
                    // Every figure names its CPU; int8 rows depend on which kernel this CPU takes.
                    io.Output.WriteLine($"cpu: {CpuInfo.Describe()}");
                    foreach (var (path, fit) in results.Select(r => (r.ModelPath, CpuInfo.Int8Fit(r.Model.Metadata))).Where(p => p.Item2 is not null).Distinct())
                        io.Output.WriteLine($"int8 ({Path.GetFileName(path)}): {fit}");
                }
                if (settings.ProfileDirectory is not null && !asJson)
                    foreach (var file in new DirectoryInfo(settings.ProfileDirectory).GetFiles("*.json").Where(f => f.LastWriteTimeUtc >= started).OrderBy(f => f.Name))
                        PrintProfile(io.Output, file.FullName, results, settings);
                if (asJson) io.Output.WriteLine(compare ? CompareJson(results) : ToJson(paths[0], [.. results.Select(r => r.Result)]));
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException)
            {
                io.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.ForStartError(e);
            }
        });
        return command;
    }

    private const string Header =
        "provider threads   size batch    p50 ms    p90 ms    p99 ms   images/s  GMAC/img  GFLOP/s  peak GFLOP/s  of peak";

    private static string Row(ComparedResult compared)
    {
        var r = compared.Result;
        var c = CultureInfo.InvariantCulture;
        string Opt(double? v, string format, int width) => (v is { } x ? x.ToString(format, c) : "-").PadLeft(width);
        return string.Create(c,
            $"{r.Provider,-8} {(r.Threads == 0 ? "auto" : r.Threads.ToString(c)),7} {r.Size,6} {r.Batch,5} {r.P50Ms,9:F2} {r.P90Ms,9:F2} {r.P99Ms,9:F2} {r.ImagesPerSecond,10:F2} " +
            $"{Opt(r.GigaMacsPerImage, "F2", 9)} {Opt(r.Gflops, "F1", 8)} {Opt(PeakFor(compared), "F1", 13)} {OfPeak(compared)}");
    }

    /// <summary>
    /// Share of the measured peak: int8 models against the int8 dot-product (VNNI) peak, the others against the float FMA
    /// peak. Without VNNI an int8 share is against the float peak and in parentheses: its integer dot products can pass it.
    /// </summary>
    private static string OfPeak(ComparedResult c)
    {
        if (c.Result.Gflops / PeakFor(c) is not { } f) return "      -";
        string percent = (f * 100).ToString("F0", CultureInfo.InvariantCulture) + "%";
        return (c.Precision == "int8" && Int8Peak(c) is null ? $"({percent})" : percent).PadLeft(7);
    }

    /// <summary>The peak a row is rated against: the int8 dot-product peak for int8 models where the CPU has VNNI, else the float FMA peak.</summary>
    private static double? PeakFor(ComparedResult c) => Int8Peak(c) ?? c.Result.PeakGflops;

    private static double? Int8Peak(ComparedResult c) => c.Precision == "int8" ? c.Result.Peak?.Int8For(c.Result.Threads) : null;

    /// <summary>Kernel time per operator type, with the convolutions' GFLOP/s and their share of the measured FMA peak.</summary>
    private static void PrintProfile(TextWriter output, string path, List<ComparedResult> results, BenchSettings settings)
    {
        var inv = CultureInfo.InvariantCulture;
        // ModelBenchmark names each file <model>-<provider>-threads<n>_<time>.json.
        string name = Path.GetFileName(path);
        var result = results.FirstOrDefault(r => name.StartsWith(
            $"{Path.GetFileNameWithoutExtension(r.ModelPath)}-{r.Result.Provider}-threads{r.Result.Threads}_", StringComparison.Ordinal));
        // Conv rates need every run of the file at one size and batch.
        bool oneShape = settings.Sizes.Count == 1 && settings.Batches.Count == 1 && result is not null;
        var ops = OrtProfile.Summarize(path, oneShape ? result!.Layers : null, result?.Result.Size ?? 0, result?.Result.Batch ?? 1);
        output.WriteLine();
        output.WriteLine($"profile {path} (all runs, warm-up included):");
        output.WriteLine("op type                  calls   total ms   share   GFLOP/s");
        foreach (var op in ops)
        {
            string rate = op.Gflops is { } g
                ? g.ToString("F1", inv) + (result?.Result.PeakGflops is { } y ? string.Create(inv, $" ({g / y * 100:F0}% of the measured FMA peak)") : "")
                : "";
            output.WriteLine(string.Create(inv, $"{op.OpType,-22} {op.Calls,7} {op.Milliseconds,10:F1} {op.Share * 100,6:F1}%   {rate}"));
        }
    }

    private const string CompareHeader =
        "model                          precision provider threads   size batch    p50 ms    p90 ms  images/s*  GFLOP/s  of peak  vs first";

    /// <summary>*images/s from the median latency, so one slow run caused by another process does not decide a comparison.</summary>
    private static string CompareRow(ComparedResult c)
    {
        var r = c.Result;
        var inv = CultureInfo.InvariantCulture;
        string name = Path.GetFileName(c.ModelPath);
        if (name.Length > 30) name = "…" + name[^29..];
        string Opt(double? v, string format, int width) => (v is { } x ? x.ToString(format, inv) : "-").PadLeft(width);
        return string.Create(inv,
            $"{name,-30} {c.Precision,-9} {r.Provider,-8} {(r.Threads == 0 ? "auto" : r.Threads.ToString(inv)),7} {r.Size,6} {r.Batch,5} {r.P50Ms,9:F2} {r.P90Ms,9:F2} " +
            $"{r.Batch * 1000 / r.P50Ms,10:F2} {Opt(r.Gflops, "F1", 8)} {OfPeak(c)} {c.RatioToFirst,8:F2}x");
    }

    private static string CompareJson(List<ComparedResult> results) =>
        JsonSerializer.Serialize(new
        {
            processorCount = Environment.ProcessorCount,
            accelerator = SessionFactory.BuildAccelerator,
            results = results.Select(c => new
            {
                model = c.ModelPath, c.Precision, c.RatioToFirst,
                c.Result.Provider, c.Result.Threads, c.Result.Size, c.Result.Batch, c.Result.Iterations, c.Result.P50Ms, c.Result.P90Ms, c.Result.P99Ms,
                c.Result.MeanMs, c.Result.ImagesPerSecond, c.Result.GigaMacsPerImage, c.Result.Gflops, c.Result.PeakGflops, c.Result.PeakFraction,
                fmaPeak = c.Result.Peak,
            }),
        }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });

    private static string ToJson(string modelPath, List<BenchResult> results) =>
        JsonSerializer.Serialize(new
        {
            model = modelPath,
            processorCount = Environment.ProcessorCount,
            accelerator = SessionFactory.BuildAccelerator,
            results = results.Select(r => new
            {
                r.Provider, r.Threads, r.Size, r.Batch, r.Iterations, r.P50Ms, r.P90Ms, r.P99Ms, r.MeanMs, r.ImagesPerSecond,
                r.GigaMacsPerImage, r.Gflops, r.PeakGflops, r.PeakFraction, fmaPeak = r.Peak,
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
