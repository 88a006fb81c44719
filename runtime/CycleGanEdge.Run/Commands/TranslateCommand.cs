using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.Diagnostics;
using CycleGanEdge.Core;
using CycleGanEdge.Run.Batch;
using CycleGanEdge.Runtime;
using CycleGanEdge.Core.Imaging;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace CycleGanEdge.Run.Commands;

public static class TranslateCommand
{
    public static Command Create()
    {
        var model = SharedOptions.Model();
        var inputs = new Argument<string[]>("inputs")
        {
            Description = "Image files, folders or glob patterns (quote them: 'photos/**/*.jpg')",
            Arity = ArgumentArity.OneOrMore,
        };
        // Unknown options would otherwise be taken for inputs.
        inputs.Validators.Add(r =>
        {
            foreach (string value in r.GetValueOrDefault<string[]>() ?? [])
                if (value.StartsWith('-') && !File.Exists(value) && !Directory.Exists(value))
                    r.AddError($"Unknown option '{value}'.");
        });
        var output = new Option<DirectoryInfo>("--output", "-o") { Description = "Output folder; mirrors the input tree", Required = true }.WritableFolder();
        var format = new Option<string>("--format", "-f") { Description = "Output format", DefaultValueFactory = _ => "png" }
            .AcceptOnlyFromAmong("png", "jpg", "webp");
        var quality = new Option<int>("--quality", "-q") { Description = "JPEG/WebP quality 1-100 (100 = lossless WebP)", DefaultValueFactory = _ => 95 };
        quality.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 1 or > 100) r.AddError("--quality must be between 1 and 100.");
        });
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Include subfolders of input folders" };
        var skipExisting = new Option<bool>("--skip-existing") { Description = "Leave images whose output already exists (outputs are never partial)" };
        var jobs = new Option<Jobs>("--jobs", "-j")
        {
            Description = "Threads for load:proc:save (proc = model sessions; auto = one single-thread session per free core for several images, else 1)",
            DefaultValueFactory = _ => Jobs.Auto,
            // Never throws and never returns null (see SharedOptions.Tiling's --tile).
            CustomParser = r =>
            {
                string value = r.Tokens.Count == 1 ? r.Tokens[0].Value : "";
                if (Jobs.Parse(value) is { } given) return given;
                r.AddError($"--jobs must be load:proc:save, three whole numbers >= 1 (proc may be auto), e.g. 2:1:2, not '{value}'.");
                return Jobs.Auto;
            },
        };
        var provider = SharedOptions.Provider();
        var deviceId = SharedOptions.DeviceId();
        var threads = SharedOptions.NonNegative(new Option<int>("--threads") { Description = "Threads per model run (0 = ONNX Runtime decides) [default: 1 per session when there are several sessions; else the cores other processes leave free, minus one for decode and encode unless they are under 5% of the model's work]" });
        var tiling = new SharedOptions.Tiling();
        var maxSide = SharedOptions.NonNegative(new Option<int>("--max-side") { Description = "Scale images down so the longer side is at most this (0 = keep size)" });
        var batch = SharedOptions.AtLeastOne(new Option<int>("--batch") { Description = "Images of the same size per model run", DefaultValueFactory = _ => AutoSettings.Batch });
        var maxPixels = SharedOptions.AtLeastOne(new Option<long>("--max-pixels") { Description = "Refuse images with more pixels (decompression bombs)", DefaultValueFactory = _ => ImageLimits.Default.MaxPixels });
        var alpha = AlphaOption.Create();
        var cacheOptimized = new Option<bool>("--cache-optimized") { Description = "Save the optimised graph beside the model and reuse it" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (sessions, threads, tiles and why) and stop: no model runs, no file is written" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print the plan before translating" };
        var shard = new Option<string?>("--shard") { Description = "Do only worker i's share of n workers (0-based i/n, split by a hash of each output path)" };
        shard.Validators.Add(r =>
        {
            if (Shard.Parse(r.GetValueOrDefault<string?>()) is null) r.AddError(Shard.Usage);
        });

        var command = new Command("translate", "Translate images, folders or glob patterns into an output folder")
        {
            model, inputs, output, format, quality, recursive, skipExisting, jobs, provider, deviceId, threads,
        };
        tiling.AddTo(command);
        foreach (Option o in new Option[] { maxSide, batch, maxPixels, alpha, cacheOptimized, shard, dryRun, verbose }) command.Options.Add(o);

        command.SetAction(async (parse, ct) =>
        {
            // Options left unset get the automatic choice; whatever is given on the command line wins.
            // procs 0: chosen in RunAsync from the first image (AutoSettings.Sessions), or 1 when --threads is given.
            var stages = parse.GetValue(jobs)!;
            int procs = stages.Proc ?? (Given(parse, threads) ? 1 : 0);
            var options = tiling.Apply(parse, new TranslatorOptions
            {
                Provider = parse.GetValue(provider)!,
                DeviceId = parse.GetValue(deviceId),
                Threads = parse.GetValue(threads), // unless given, chosen in RunAsync from the first image
                MaxSide = parse.GetValue(maxSide),
                Alpha = AlphaOption.Parse(parse.GetValue(alpha)!),
                CacheOptimizedModel = parse.GetValue(cacheOptimized),
            });
            var settings = new PipelineSettings
            {
                Format = parse.GetValue(format) switch { "jpg" => ImageFormat.Jpeg, "webp" => ImageFormat.Webp, _ => ImageFormat.Png },
                Quality = parse.GetValue(quality),
                Batch = parse.GetValue(batch),
                Loaders = stages.Load,
                Savers = stages.Save,
                Limits = new ImageLimits { MaxPixels = parse.GetValue(maxPixels) },
            };
            return await RunAsync(parse.GetRequiredValue(model).FullName, parse.GetRequiredValue(inputs), parse.GetRequiredValue(output).FullName,
                options, !Given(parse, threads), procs, settings, parse.GetValue(recursive), parse.GetValue(skipExisting), Shard.Parse(parse.GetValue(shard)),
                parse.GetValue(dryRun), parse.GetValue(verbose), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(string modelPath, string[] inputs, string outputRoot, TranslatorOptions options, bool autoThreads,
        int procs, PipelineSettings settings, bool recursive, bool skipExisting, Shard? shard, bool dryRun, bool verbose,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        // Scanning only lists folders; its results are used after the model opened.
        var scan = InputScanner.Scan(inputs, outputRoot, settings.Format, recursive);
        // Decide first (a pure plan from what is measured here), then do.
        var work = autoThreads ? AutoSettings.Measure(modelPath, scan.Items.FirstOrDefault()?.Source, settings, options.MaxSide) : null;
        int cores = Environment.ProcessorCount;
        int free = autoThreads && AutoSettings.WorthProbing(work, scan.Items.Count) ? AutoSettings.FreeCores(cores) : cores;
        var plan = TranslatePlan.Make(modelPath, options, autoThreads, procs, settings, scan.Items.Count, work, cores, free);
        if (dryRun)
        {
            try
            {
                foreach (string line in plan.Describe(ModelInfo.ReadHeader(modelPath)))
                    await output.WriteLineAsync(line);
                return ExitCodes.Success;
            }
            catch (InvalidModelException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return ExitCodes.ForStartError(e);
            }
        }
        return await ExecuteAsync(plan, scan, outputRoot, skipExisting, shard, verbose, output, error, ct);
    }

    /// <summary>Opens the plan's sessions and translates its images.</summary>
    private static async Task<int> ExecuteAsync(TranslatePlan plan, ScanResult scan, string outputRoot, bool skipExisting, Shard? shard, bool verbose,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        string modelPath = plan.ModelPath;
        var options = plan.Options;
        var settings = plan.Settings;
        int procs = plan.Sessions;
        var translators = new List<Translator>();
        try
        {
            // Open the model first: a bad model or provider is a usage error, before any file is touched.
            for (int i = 0; i < procs; i++)
                translators.Add(Translator.Open(modelPath, options));
        }
        catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException)
        {
            foreach (var t in translators) t.Dispose();
            await error.WriteLineAsync($"error: {e.Message}");
            return ExitCodes.ForStartError(e);
        }

        if (verbose)
            foreach (string line in plan.Describe(translators[0].Model))
                await error.WriteLineAsync(line);
        string cache = options.CacheOptimizedModel
            ? $"optimised model cached at {SessionFactory.OptimizedModelPath(modelPath, translators[0].Provider)}"
            : "optimised model not cached (--cache-optimized)";
        await error.WriteLineAsync(
            $"settings: provider {translators[0].Provider}, threads {plan.Threads}{(plan.ThreadsReason is null ? "" : $" ({plan.ThreadsReason})")}, batch {settings.Batch}, " +
            $"jobs {settings.Loaders}:{procs}:{settings.Savers}, graph optimisation all, {cache}, {plan.Tiles}");

        // Exact tiling says what scratch an image needs before it starts, and how far a long image has come.
        foreach (var t in translators)
        {
            t.Note = line => { lock (error) error.WriteLine(line); };
            t.SegmentProgress = new SegmentProgressLines(error);
        }

        if (plan.TilesChangeColours(translators[0].Model))
            await error.WriteLineAsync($"note: {Path.GetFileName(modelPath)} uses instance norm and --tile-norm tile normalises each tile on its own: " +
                "tiled images can differ in colour from whole-image runs. Prefer --tile-norm exact.");

        try
        {
            var items = scan.Items;
            if (shard is not null)
            {
                items = [.. items.Where(i => shard.Owns(Path.GetRelativePath(outputRoot, i.Output)))];
                await error.WriteLineAsync($"shard {shard}: {items.Count} of {scan.Items.Count} images");
            }
            int skipped = 0;
            if (skipExisting)
            {
                int before = items.Count;
                items = [.. items.Where(i => !File.Exists(i.Output))];
                skipped = before - items.Count;
            }

            var clock = Stopwatch.StartNew();
            PipelineResult result;
            var console = ConsoleFor(output);
            if (console.Profile.Capabilities.Interactive && items.Count > 0)
            {
                result = await console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var task = ctx.AddTask($"{translators[0].Model.DomainIn} -> {translators[0].Model.DomainOut}", maxValue: items.Count);
                        return await TranslatePipeline.RunAsync(items, translators, settings, () => task.Increment(1), ct);
                    });
            }
            else
            {
                result = await TranslatePipeline.RunAsync(items, translators, settings, null, ct);
            }
            clock.Stop();

            var failures = scan.Failures.Concat(result.Failures).ToList();
            foreach (var f in failures)
                await error.WriteLineAsync($"failed: {f.Input}: {f.Reason}");
            double rate = result.Done / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            await output.WriteLineAsync(
                $"done: {result.Done}, skipped: {skipped}, failed: {failures.Count} " +
                $"({clock.Elapsed.TotalSeconds:0.0} s, {rate:0.0} images/s, {translators[0].Provider}) -> {outputRoot}");
            if (scan.IgnoredFiles > 0)
                await output.WriteLineAsync($"ignored {scan.IgnoredFiles} file(s) without an image extension");
            // A shard may own none of a few images; the inputs themselves were not empty.
            if (scan.Items.Count + failures.Count == 0)
            {
                await error.WriteLineAsync("error: no images found in the inputs");
                return ExitCodes.Failed;
            }
            return failures.Count == 0 ? ExitCodes.Success : ExitCodes.Failed;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("interrupted: finished outputs are complete; run again with --skip-existing to continue.");
            return ExitCodes.Interrupted;
        }
        finally
        {
            foreach (var t in translators) t.Dispose();
        }
    }

    private static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>The real terminal when writing to stdout; a plain, non-interactive console for any other writer (tests, pipes).</summary>
    private static IAnsiConsole ConsoleFor(TextWriter output) =>
        ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
            ? AnsiConsole.Console
            : AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No, Ansi = AnsiSupport.No });

    /// <summary>One line per tenth of an exact tiled image's work (segments x tiles), on stderr.</summary>
    private sealed class SegmentProgressLines(TextWriter error) : IProgress<CycleGanEdge.Runtime.Segments.SegmentProgress>
    {
        private int _lastTenth;

        public void Report(CycleGanEdge.Runtime.Segments.SegmentProgress p)
        {
            int tenth = p.TilesDone * 10 / p.TilesTotal;
            if (p.TilesDone == 1) _lastTenth = 0;
            if (tenth == _lastTenth) return;
            _lastTenth = tenth;
            lock (error) error.WriteLine($"  {tenth * 10}% (segment {p.Segment} of {p.Segments}, tile {p.TilesDone} of {p.TilesTotal})");
        }
    }

    /// <summary>Images per second, from Spectre's own speed estimate.</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } s ? $"{s:0.0} img/s" : "-- img/s");
    }
}

/// <summary>The value of --jobs: load:proc:save threads; <see cref="Proc"/> null is auto (the default, AutoSettings.Sessions).</summary>
public sealed record Jobs(int Load, int? Proc, int Save)
{
    public static readonly Jobs Auto = new(AutoSettings.Loaders, null, AutoSettings.Savers);

    /// <summary>"2:1:2" or "1:auto:4"; null for anything else.</summary>
    public static Jobs? Parse(string value)
    {
        var parts = value.Split(':');
        if (parts.Length != 3) return null;
        int? Count(string part) => int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int v) && v >= 1 ? v : null;
        int? load = Count(parts[0]), save = Count(parts[2]);
        int? proc = parts[1] == "auto" ? null : Count(parts[1]);
        if (load is null || save is null || (proc is null && parts[1] != "auto")) return null;
        return new Jobs(load.Value, proc, save.Value);
    }

    /// <summary>As the command line writes it (--help shows the default this way).</summary>
    public override string ToString() => $"{Load}:{(Proc is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "auto")}:{Save}";
}
