using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>
/// cyclegan-train bench: seconds per full CycleGAN iteration (both generators and discriminators,
/// forward, backward, both optimizer steps) on random images, after a warm-up, so it can be
/// compared side by side with the same step in PyTorch (benchmarks/pytorch_step.py).
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var set = new TrainOptionSet();
        var iters = set.Add("--iters", "Timed iterations", 20).AtLeast(1);
        var warmup = set.Add("--warmup", "Untimed iterations first", 3).AtLeast(0);
        var json = set.Add("--json", "Print one JSON object instead of text", false);
        var command = new Command("bench", "Time one CycleGAN training iteration");
        foreach (var option in set.All) command.Options.Add(option);
        command.SetAction((p, ct) =>
        {
            var output = p.InvocationConfiguration.Output;
            try
            {
                var result = Run(set.Read(p), p.GetValue(iters), p.GetValue(warmup), ct);
                output.WriteLine(p.GetValue(json)
                    ? JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })
                    : $"{result.NetG}/{result.NetD} {result.CropSize}px batch {result.BatchSize}: {result.SecondsPerIterMean:F3} s/it mean, " +
                      $"{result.SecondsPerIterMedian:F3} median, {result.SecondsPerIterMin:F3} min over {result.Iters} iterations " +
                      $"({result.Threads} threads, {result.Cores} cores, {result.Device})");
                return Task.FromResult(0);
            }
            catch (TrainingException e)
            {
                p.InvocationConfiguration.Error.WriteLine($"cyclegan-train: {e.Message}");
                return Task.FromResult(TrainCommand.ExitUserError);
            }
        });
        return command;
    }

    public sealed record BenchResult(
        string Framework, string NetG, string NetD, int CropSize, int BatchSize, string GanMode, int Iters, int Warmup,
        double SecondsPerIterMean, double SecondsPerIterMedian, double SecondsPerIterMin,
        int Cores, int Threads, string Device, string Os, string Cpu);

    public static BenchResult Run(TrainOptions options, int iters, int warmup, CancellationToken ct)
    {
        var errors = options.Validate();
        if (errors.Count > 0) throw new TrainingException(string.Join(Environment.NewLine, errors));
        var device = Devices.Resolve(options.Device);
        torch.set_num_threads(options.Threads > 0 ? options.Threads : Environment.ProcessorCount);
        torch.manual_seed(options.Seed);
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
        return new BenchResult("TorchSharp " + typeof(torch).Assembly.GetName().Version, options.NetG, options.NetD, options.CropSize, options.BatchSize,
            options.GanMode, times.Count, warmup, times.Average(), sorted[sorted.Length / 2], sorted[0],
            Environment.ProcessorCount, torch.get_num_threads(), device.ToString(), RuntimeInformation.OSDescription, CpuName());
    }

    private static string CpuName()
    {
        try
        {
            var line = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
            return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }
}
