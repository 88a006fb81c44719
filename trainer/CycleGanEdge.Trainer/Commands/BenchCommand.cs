using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>
/// cyclegan-train bench: seconds per full training iteration (every network forward and backward, every optimizer
/// step) on random images, after a warm-up, and the process's peak resident memory, so it can be compared side by
/// side with the same step in PyTorch (benchmarks/pytorch_step.py). With --model cut or fastcut it also benches
/// CycleGAN with the same options, each model in a fresh process of its own so the peak memory is that model's.
/// </summary>
public static class BenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var set = new TrainOptionSet();
        var iters = set.Add("--iters", "Timed iterations", 20).AtLeast(1);
        var warmup = set.Add("--warmup", "Untimed iterations first", 3).AtLeast(0);
        var json = set.Add("--json", "Print JSON instead of text (an array of two with --compare)", false);
        var compare = set.Add("--compare", "With --model cut or fastcut: also bench cyclegan, each in its own process (default: true)", true);
        var command = new Command("bench", "Time one training iteration (and compare CUT/FastCUT with CycleGAN)");
        foreach (var option in set.All) command.Options.Add(option);
        set.AddCrossOptionRules(command);
        command.SetAction(async (p, ct) =>
        {
            var output = p.InvocationConfiguration.Output;
            var options = set.Read(p);
            try
            {
                // Before any child process: a device this build lacks is the parent's usage error, not a child's failure.
                Devices.Resolve(options.Device);
                if (options.Model != TranslationModels.CycleGan && p.GetValue(compare))
                {
                    // The child runs get every option given here but the model, and report JSON.
                    var passOn = new List<string>();
                    foreach (var option in command.Options)
                    {
                        if (option == set.Model || option == json || option == compare || p.GetResult(option) is not { Implicit: false } given) continue;
                        passOn.Add(option.Name);
                        passOn.AddRange(given.Tokens.Select(t => t.Value));
                    }
                    var results = new List<BenchResult>();
                    foreach (var model in new[] { TranslationModels.CycleGan, options.Model })
                        results.Add(await RunChild([.. passOn, "--model", model, "--compare", "false", "--json"], ct));
                    output.WriteLine(p.GetValue(json) ? JsonSerializer.Serialize(results, Json) : Comparison(results));
                    return 0;
                }
                var result = Run(options, p.GetValue(iters), p.GetValue(warmup), ct);
                output.WriteLine(p.GetValue(json) ? JsonSerializer.Serialize(result, Json) : Line(result));
                return 0;
            }
            catch (DeviceUnavailableException e)
            {
                p.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Usage;
            }
            catch (TrainingException e)
            {
                p.InvocationConfiguration.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Failed;
            }
        });
        return command;
    }

    public sealed record BenchResult(
        string Framework, string Model, string NetG, string NetD, int CropSize, int BatchSize, string GanMode, int Iters, int Warmup,
        double SecondsPerIterMean, double SecondsPerIterMedian, double SecondsPerIterMin,
        double RssBeforeMb, double PeakRssMb,
        int Cores, int Threads, string Device, string Os, string Cpu);

    public static BenchResult Run(TrainOptions options, int iters, int warmup, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0) throw new TrainingException(string.Join(Environment.NewLine, errors));
        var device = Devices.Resolve(options.Device);
        torch.set_num_threads(options.Threads > 0 ? options.Threads : Environment.ProcessorCount);
        torch.manual_seed(options.Seed);
        double rssBefore = MemoryMb("VmRSS");
        using var model = TranslationModels.Create(options, device);
        using var realA = (rand(options.BatchSize, options.InputNc, options.CropSize, options.CropSize, device: device) * 2 - 1).DetachFromDisposeScope();
        using var realB = (rand(options.BatchSize, options.OutputNc, options.CropSize, options.CropSize, device: device) * 2 - 1).DetachFromDisposeScope();
        var times = new List<double>();
        for (int i = 0; i < warmup + iters && !ct.IsCancellationRequested; i++)
        {
            var clock = Stopwatch.StartNew();
            model.Step(realA, realB, new Random(i));
            if (device.type == DeviceType.CUDA) cuda.synchronize();
            if (i >= warmup) times.Add(clock.Elapsed.TotalSeconds);
        }
        if (times.Count == 0) throw new TrainingException("cancelled before any timed iteration");
        var sorted = times.Order().ToArray();
        return new BenchResult("TorchSharp " + typeof(torch).Assembly.GetName().Version, options.Model, options.NetG, options.NetD, options.CropSize, options.BatchSize,
            options.GanMode, times.Count, warmup, times.Average(), sorted[sorted.Length / 2], sorted[0], rssBefore, MemoryMb("VmHWM"),
            Environment.ProcessorCount, torch.get_num_threads(), device.ToString(), RuntimeInformation.OSDescription, CycleGanEdge.Core.CpuInfo.Describe());
    }

    private static string Line(BenchResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Model} {r.NetG}/{r.NetD} {r.CropSize}px batch {r.BatchSize}: {r.SecondsPerIterMean:F3} s/it mean, ") +
        string.Create(CultureInfo.InvariantCulture, $"{r.SecondsPerIterMedian:F3} median, {r.SecondsPerIterMin:F3} min over {r.Iters} iterations, peak RSS {r.PeakRssMb:F0} MB ") +
        string.Create(CultureInfo.InvariantCulture, $"({r.RssBeforeMb:F0} MB before the model) ({r.Threads} threads, {r.Cores} cores, {r.Device})");

    /// <summary>One line per model, then the second model's time and memory relative to the first's.</summary>
    private static string Comparison(IReadOnlyList<BenchResult> results)
    {
        var text = new StringBuilder();
        foreach (var r in results) text.AppendLine(Line(r));
        var (baseline, other) = (results[0], results[1]);
        double Growth(BenchResult r) => r.PeakRssMb - r.RssBeforeMb;
        text.Append(CultureInfo.InvariantCulture,
            $"{other.Model} vs {baseline.Model}: {other.SecondsPerIterMedian / baseline.SecondsPerIterMedian:F2}x the median step time, " +
            $"{other.PeakRssMb / baseline.PeakRssMb:F2}x the peak RSS ({Growth(other):F0} MB against {Growth(baseline):F0} MB above the process before the model)");
        return text.ToString();
    }

    /// <summary>This same program, "bench" with <paramref name="args"/>, in a process of its own; its JSON result.</summary>
    private static async Task<BenchResult> RunChild(IReadOnlyList<string> args, CancellationToken ct)
    {
        string host = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cyclegan-train.dll"));
        start.ArgumentList.Add("bench");
        foreach (var a in args) start.ArgumentList.Add(a);
        using var child = Process.Start(start) ?? throw new TrainingException($"could not start {host}");
        var stdout = child.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = child.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await child.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            child.Kill();
            throw new TrainingException("cancelled");
        }
        if (child.ExitCode != 0)
            throw new TrainingException($"bench {string.Join(' ', args)} failed (exit {child.ExitCode}): {(await stderr).Trim()}");
        return JsonSerializer.Deserialize<BenchResult>(await stdout, Json) ?? throw new TrainingException("bench child printed no result");
    }

    /// <summary>A memory figure of this process from /proc/self/status (VmRSS now, VmHWM the peak), in MB; 0 where there is none.</summary>
    private static double MemoryMb(string field)
    {
        try
        {
            if (!File.Exists("/proc/self/status")) return 0;
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            var kb = line?.Split(':', 2)[1].Trim().Split(' ')[0];
            return kb is not null && double.TryParse(kb, NumberStyles.Integer, CultureInfo.InvariantCulture, out double v) ? v / 1024 : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
