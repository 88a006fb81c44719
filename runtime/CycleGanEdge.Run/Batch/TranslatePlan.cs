using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Run.Batch;

/// <summary>
/// What translate will run, decided before anything runs (ripgrep's HiArgs): the model's sessions, their threads and
/// tiling, and why. <see cref="Make"/> is pure: the measurements it needs (the first image's work, the free cores) are
/// taken before it, and opening sessions and translating come after it. <c>--dry-run</c> prints it and stops; <c>-v</c>
/// prints it before the run.
/// </summary>
public sealed record TranslatePlan
{
    public required string ModelPath { get; init; }
    /// <summary>Images found in the inputs (before --skip-existing and --shard).</summary>
    public required int Images { get; init; }
    /// <summary>Model sessions, each used by one processing thread.</summary>
    public required int Sessions { get; init; }
    /// <summary>Every session's options: threads, and the memory budget divided between the sessions.</summary>
    public required TranslatorOptions Options { get; init; }
    public required PipelineSettings Settings { get; init; }
    /// <summary>Why the threads and sessions are what they are; null when the command line gave them.</summary>
    public string? ThreadsReason { get; init; }

    /// <summary>The model uses instance norm and tiles would normalise each tile on its own: colours can differ from whole-image runs.</summary>
    public bool TilesChangeColours(ModelHeader model) => Options.Tile != 0 && Options.TileNorm == TileNorm.Tile && model.Descriptor.Norm == NormKind.Instance;

    /// <param name="autoThreads">--threads was not given: choose it (and the sessions when <paramref name="sessions"/> is 0).</param>
    /// <param name="sessions">--jobs' proc count; 0 for automatic.</param>
    /// <param name="work">The first image's measured work (<see cref="AutoSettings.Measure"/>); null when unknown.</param>
    /// <param name="freeCores">Cores other processes leave free (<see cref="AutoSettings.FreeCores(int, int)"/>), or all of them.</param>
    public static TranslatePlan Make(string modelPath, TranslatorOptions options, bool autoThreads, int sessions,
        PipelineSettings settings, int images, ImageWork? work, int cores, int freeCores)
    {
        string? reason = null;
        if (autoThreads)
        {
            if (sessions == 0)
                sessions = AutoSettings.Sessions(freeCores, images, work, options.MaxMemory);
            options = options with { Threads = sessions > 1 ? 1 : AutoSettings.Threads(cores, work, freeCores, images) };
            reason = AutoSettings.Reason(work, options.Threads, cores, freeCores, sessions);
        }
        sessions = Math.Max(1, sessions);
        // Sessions share the memory budget, so their tiles keep the whole process within --max-memory.
        options = options with { MaxMemory = Math.Max(1, options.MaxMemory / sessions) };
        return new TranslatePlan
        {
            ModelPath = modelPath, Images = images, Sessions = sessions, Options = options, Settings = settings, ThreadsReason = reason,
        };
    }

    /// <summary>What the tiles will be, as the settings line says it.</summary>
    public string Tiles => (Options.Tile switch
    {
        null => $"tiles above {Options.MaxMemory >> 20} MB{(Sessions > 1 ? " per session" : "")} (--max-memory)",
        0 => "no tiles",
        int side => $"tiles of {side} px",
    }) + $" with {Options.TileNorm.ToString().ToLowerInvariant()} statistics";

    public string Threads => Options.Threads == 0 ? "chosen by ONNX Runtime" : Options.Threads.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The provider as asked for; for auto, the order it tries this build's providers in (the first that starts is used:
    /// a GPU can still fail to start, which only opening a session shows).
    /// </summary>
    public string Provider => Options.Provider.Equals("auto", StringComparison.OrdinalIgnoreCase)
        ? $"auto (tries {string.Join(", then ", SessionFactory.AvailableProviders())})"
        : Options.Provider;

    /// <summary>The plan, one line each, for --dry-run and -v; <paramref name="model"/> is the file's checked header.</summary>
    public IEnumerable<string> Describe(ModelHeader model)
    {
        var d = model.Descriptor;
        yield return $"plan: model {ModelPath}: {model.DomainIn} -> {model.DomainOut}, {d.Arch} (ngf {d.Ngf}, norm {ModelDescriptor.NormName(d.Norm)}, " +
                     $"upsample {ModelDescriptor.UpsamplingName(d.Upsampling)}, antialias {ModelDescriptor.AntialiasingName(d.Antialiasing)}, " +
                     (d.Output == GeneratorOutput.Residual ? "residual output, " : "") +
                     $"multiple of {d.SpatialMultiple}), contract version {model.ContractVersion}";
        yield return $"plan: {Images} image(s) found";
        yield return $"plan: {Sessions} session(s) on provider {Provider}, threads {Threads}" + (ThreadsReason is null ? " (--threads)" : $" ({ThreadsReason})");
        yield return $"plan: jobs {Settings.Loaders}:{Sessions}:{Settings.Savers}, batch {Settings.Batch}, {Tiles}";
        if (TilesChangeColours(model))
            yield return "plan: note: --tile-norm tile normalises each tile on its own; prefer --tile-norm exact";
    }
}
