using System.Diagnostics;
using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Bench;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Run.Batch;

/// <summary>
/// What one image costs: the model's multiply-accumulates at the image's size (from its architecture, as bench counts
/// them), the decode + encode of that image, timed once at start, and the estimated memory of one run of it whole.
/// </summary>
public sealed record ImageWork(double ModelGigaMacs, double DecodeEncodeMs, long RunBytes = 0)
{
    /// <summary>The model's time per image on one core, at <see cref="AutoSettings.ModelGflopsPerCore"/>.</summary>
    public double ModelMs => ModelGigaMacs * 2 / AutoSettings.ModelGflopsPerCore * 1000;
}

/// <summary>
/// What translate uses for the options a user leaves unset. Rules from measurements on 2 cores (runtime/README.md,
/// benchmarks/RESULTS.md); the only probing at start is one decode and encode of the first image and 40 ms of
/// spinning to see how many cores are free.
/// </summary>
public static class AutoSettings
{
    /// <summary>
    /// Inference threads from the work per image and the cores other processes leave free. With all free cores but
    /// one, the spare core decodes and encodes while the model runs, so decode and encode never preempt ONNX Runtime's
    /// threads (each model run waits for its slowest thread). That pays while they keep the spare core busy: at 64 px
    /// on the emoji model (decode + encode ~13% of the model's time) 1 thread ran 353 images/s, 2 threads 134. When
    /// they need less than <see cref="SpareCoreShare"/> of the model's time the spare core mostly idles and goes to
    /// the model (resnet_9blocks ngf 64 at 64 and 256 px: under 1%). A core another process keeps busy is not given
    /// to the model either: a thread that waits for it stalls every operator (at 256 px with two other busy processes
    /// on 2 cores, 1 thread ran 1.36-1.52 images/s, 2 threads 0.87-1.10; benchmarks/RESULTS.md). Without a known
    /// architecture or a readable first image: all cores but one.
    /// </summary>
    /// <remarks>A single image cannot overlap its decode and encode with another image's model run: all free cores to the model.</remarks>
    public static int Threads(int cores, ImageWork? work, int freeCores, int images = int.MaxValue)
    {
        if (work is null) return Math.Max(1, cores - 1);
        int free = Math.Clamp(freeCores, 1, cores);
        return images < 2 || work.DecodeEncodeMs < SpareCoreShare * work.ModelMs ? free : Math.Max(1, free - 1);
    }

    /// <summary>
    /// Whether counting the free cores (<see cref="FreeCores"/> sleeps 100 ms) can pay: only when the model's estimated
    /// work for all images is at least <see cref="ProbeWorthMs"/>. One small image would wait longer for the probe than
    /// for its translation (a 64 px emoji: ~230 ms from process start with the probe, ~125 ms without).
    /// </summary>
    public static bool WorthProbing(ImageWork? work, int images) => work is not null && work.ModelMs * images >= ProbeWorthMs;

    /// <summary>Ten times the probe's 100 ms: below that the probe would cost more than a wrong guess of the free cores.</summary>
    public const double ProbeWorthMs = 1000;

    /// <summary>
    /// Model sessions for several images: one per free core, each with one thread, as long as that many whole-image
    /// runs of the first image fit the memory budget. ONNX Runtime splits every operator of a run over the run's
    /// threads and waits for the slowest at each one (about 90 operators in a resnet), and decode or encode preempting
    /// one thread stalls them all; separate sessions never wait for each other, so decode and encode delay only the
    /// image they belong to. One session (with <see cref="Threads"/>) for a single image or an unknown model.
    /// </summary>
    public static int Sessions(int freeCores, int images, ImageWork? work, long maxMemory)
    {
        if (work is null || images < 2 || freeCores < 2) return 1;
        long fit = work.RunBytes > 0 ? maxMemory / work.RunBytes : 1;
        return (int)Math.Clamp(fit, 1, Math.Min(freeCores, images));
    }

    /// <summary>
    /// Cores other processes leave free: the machine's idle share over <paramref name="milliseconds"/> of this
    /// process sleeping, from /proc/stat, times its CPUs, at most <paramref name="cores"/> (Environment.ProcessorCount,
    /// which already honours a container's CPU quota). A spin probe was tried first and was unreliable on a VM: for
    /// tens of milliseconds the scheduler may run both probe threads on one vCPU, so an idle 2-core machine looked
    /// half busy in half the runs. Without /proc/stat (not Linux) every core counts as free.
    /// </summary>
    public static int FreeCores(int cores, int milliseconds = 100)
    {
        if (CpuTimes.Read() is not { } before) return cores;
        Thread.Sleep(milliseconds);
        return CpuTimes.Read() is { } after ? FreeCores(cores, before, after) : cores;
    }

    /// <summary>Free cores between two /proc/stat snapshots: idle share of the interval times the CPUs, rounded.</summary>
    public static int FreeCores(int cores, CpuTimes before, CpuTimes after)
    {
        long total = after.Total - before.Total, idle = after.Idle - before.Idle;
        if (total <= 0) return cores;
        double free = (double)idle / total * after.Cpus;
        return Math.Clamp((int)Math.Round(free), 1, cores);
    }

    /// <summary>Decode + encode below this share of the model's one-core time leave the spare core mostly idle.</summary>
    public const double SpareCoreShare = 0.05;

    /// <summary>
    /// A round figure for ONNX Runtime's float32 convolutions on one core: 130-160 GFLOP/s measured for resnet_9blocks
    /// at 256 px on one thread here, less on smaller layers. Only the order of magnitude matters for <see cref="Threads"/>.
    /// </summary>
    public const double ModelGflopsPerCore = 100;

    /// <summary>
    /// The work of <paramref name="firstImage"/> through <paramref name="modelPath"/>; null when the architecture is
    /// unknown or the image or model cannot be read (the pipeline reports those). Decode and encode run twice and the
    /// second is timed: the first pays for loading the codecs.
    /// </summary>
    public static ImageWork? Measure(string modelPath, string? firstImage, PipelineSettings settings, int maxSide)
    {
        if (firstImage is null) return null;
        try
        {
            var model = ModelInfo.ReadHeader(modelPath).Descriptor;
            var layers = GeneratorCost.Layers(model);
            int multiple = model.SpatialMultiple;
            if (layers is null) return null;

            RgbaImage image = ImageCodec.Decode(firstImage, settings.Limits);
            ImageCodec.Encode(image, settings.Format, settings.Quality);
            long start = Stopwatch.GetTimestamp();
            image = ImageCodec.Decode(firstImage, settings.Limits);
            ImageCodec.Encode(image, settings.Format, settings.Quality);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

            double scale = maxSide > 0 ? Math.Min(1.0, maxSide / (double)Math.Max(image.Width, image.Height)) : 1.0;
            int Padded(int side) => ((int)Math.Round(side * scale) + multiple - 1) / multiple * multiple;
            int w = Padded(image.Width), h = Padded(image.Height);
            long runBytes = Translator.EstimatedBytes(model, w, h);
            return new ImageWork(GeneratorCost.MultiplyAccumulates(layers, w, h) / 1e9, ms, runBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or KeyNotFoundException
                                      or OverflowException or ImageDecodeException or InvalidModelException)
        {
            return null;
        }
    }

    /// <summary>Why <see cref="Threads"/> and <see cref="Sessions"/> chose what they did, for the settings line.</summary>
    public static string Reason(ImageWork? work, int threads, int cores, int freeCores, int sessions = 1)
    {
        if (work is null) return "all cores but one: model cost unknown";
        string busy = freeCores < cores ? string.Create(CultureInfo.InvariantCulture, $", other processes leave {freeCores} of {cores} cores") : "";
        string choice = sessions > 1 ? $"{sessions} sessions of {threads} thread, one per free core"
            : threads == Math.Min(freeCores, cores) ? "every free core to the model" : "one free core left for decode and encode";
        return string.Create(CultureInfo.InvariantCulture,
            $"model ~{work.ModelMs:0.#} ms/image on one core, decode+encode {work.DecodeEncodeMs:0.##} ms = {work.DecodeEncodeMs / work.ModelMs * 100:0.#}%{busy}: {choice}");
    }

    public const int Loaders = 1;

    /// <summary>
    /// Savers mostly wait for the disk (each output is flushed before its rename: 6-8 ms per small file
    /// measured here, 0.3 ms of it CPU). Concurrent flushes share journal commits: 1 saver wrote ~130
    /// files/s, 2 wrote 700-1,200, 4 wrote 720-1,700, so 4 keep saving far from being the limit.
    /// </summary>
    public const int Savers = 4;

    /// <summary>One image per run: batching on the CPU provider measured no faster (350 vs 353 images/s at 64 px); GPUs are unmeasured here.</summary>
    public const int Batch = 1;
}

/// <summary>The aggregate "cpu" line of /proc/stat (clock ticks) and the number of CPUs it covers.</summary>
public sealed record CpuTimes(long Total, long Idle, int Cpus)
{
    public static CpuTimes? Read(string path = "/proc/stat")
    {
        try
        {
            var lines = File.ReadAllLines(path);
            var fields = lines.FirstOrDefault(l => l.StartsWith("cpu ", StringComparison.Ordinal))?
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            if (fields is not { Length: >= 4 }) return null;
            int cpus = lines.Count(l => l.StartsWith("cpu", StringComparison.Ordinal) && l.Length > 3 && char.IsDigit(l[3]));
            // user nice system idle iowait irq softirq steal: idle and iowait are time nobody ran; guest time is in user.
            long idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return new CpuTimes(fields.Take(8).Sum(), idle, Math.Max(1, cpus));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }
}
