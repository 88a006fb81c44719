using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Core.Metrics;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Evaluation;
using CycleGanEdge.Core.Imaging;
using Spectre.Console;

namespace CycleGanEdge.Run.Commands;

/// <summary>
/// cyclegan-run eval: compare models (or folders of their outputs) in one run. FID/KID against a folder of
/// real target images with a user-supplied ONNX feature network; PSNR/SSIM/L1 against ground truth
/// paired by file name; cycle L1 of an A→B, B→A pair; with a domain classifier (cyclegan-train classifier), the share
/// of translated images classified as the target domain, with the real images' shares as reference rows.
/// Writes results.md, results.csv and index.html.
/// </summary>
public static class EvalCommand
{
    private sealed record Candidate(string Name, List<(string Name, RgbaImage Image)> Images);

    public static Command Create()
    {
        var models = new Option<FileInfo[]>("--model", "-m") { Description = "Generator(s) to evaluate on --input (repeat for several)" };
        models.AcceptExistingOnly();
        var input = new Option<DirectoryInfo>("--input") { Description = "Source-domain images the models translate" };
        input.AcceptExistingOnly();
        var translated = new Option<DirectoryInfo[]>("--translated") { Description = "Folder(s) of already translated images to evaluate (repeat for several)" };
        translated.AcceptExistingOnly();
        var real = new Option<DirectoryInfo>("--real") { Description = "Real target-domain images (FID/KID reference; the classifier's reference row)" };
        real.AcceptExistingOnly();
        var truth = new Option<DirectoryInfo>("--ground-truth") { Description = "Target images paired with the inputs by file name (PSNR, SSIM, L1)" };
        truth.AcceptExistingOnly();
        var features = new Option<FileInfo>("--features")
        {
            Description = "ONNX feature network for FID/KID (input float32 [N,3,H,W]); default: the ImageNet ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18, reported as " + FeatureExtractor.ResNet18DistanceName,
        };
        features.AcceptExistingOnly();
        var layer = new Option<string?>("--layer") { Description = "Output of the feature network to use (default: its first output)" };
        var imageSize = SharedOptions.AtLeastOne(new Option<int>("--image-size") { Description = "Side the images are resized to for the feature network", DefaultValueFactory = _ => 299 });
        var normalize = new Option<string>("--normalize")
        {
            Description = "--features input scaling: imagenet, minus1to1, or pytorch-fid (bilinear resize in float, then [-1,1]: for pytorch-fid's Inception as ONNX)",
            DefaultValueFactory = _ => "imagenet",
        }.AcceptOnlyFromAmong("imagenet", "minus1to1", "pytorch-fid");
        var batch = SharedOptions.AtLeastOne(new Option<int>("--batch") { Description = "Images per feature network run", DefaultValueFactory = _ => 16 });
        var kidSubset = SharedOptions.AtLeastOne(new Option<int>("--kid-subset-size") { Description = "KID subset size", DefaultValueFactory = _ => 1000 });
        var kidSubsets = SharedOptions.AtLeastOne(new Option<int>("--kid-subsets") { Description = "KID subsets", DefaultValueFactory = _ => 100 });
        var a2b = new Option<FileInfo>("--model-a2b") { Description = "With --model-b2a: cycle L1 of --input through A→B→A" };
        a2b.AcceptExistingOnly();
        var b2a = new Option<FileInfo>("--model-b2a") { Description = "With --model-a2b: the B→A generator" };
        b2a.AcceptExistingOnly();
        var classifier = new Option<FileInfo>("--classifier") { Description = "Domain classifier ONNX (cyclegan-train classifier): share of images classified as the target domain" };
        classifier.AcceptExistingOnly();
        var recolour = new Option<DirectoryInfo>("--recolour-palette") { Description = "Adds a baseline row: --input with every pixel snapped to a 32-colour palette of these images (a pure recolouring)" };
        recolour.AcceptExistingOnly();
        var targetDomain = new Option<string?>("--target-domain") { Description = "With --classifier: the target domain, by name or A/B (default: the first --model's output domain)" };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Report folder", DefaultValueFactory = _ => new DirectoryInfo("eval-report") }.WritableFolder();
        var gridCount = SharedOptions.NonNegative(new Option<int>("--grid") { Description = "Example inputs shown in index.html", DefaultValueFactory = _ => 8 });
        var cacheDir = new Option<DirectoryInfo>("--cache-dir") { Description = $"Where real-set features are cached (default {FeatureCache.DefaultDirectory})" }.WritableFolder();
        var provider = SharedOptions.Provider();
        var threads = SharedOptions.Threads();

        var command = new Command("eval", "FID/KID against real images, PSNR/SSIM/L1 against paired ground truth, cycle L1; several models in one report")
        {
            models, input, translated, real, truth, features, layer, imageSize, normalize, batch, kidSubset, kidSubsets, a2b, b2a, classifier, targetDomain, recolour, output, gridCount, cacheDir, provider, threads,
        };
        command.Validators.Add(r =>
        {
            bool anyModel = r.GetValue(models) is { Length: > 0 } || r.GetValue(a2b) is not null;
            if (anyModel && r.GetValue(input) is null) r.AddError("--model and --model-a2b need --input (the images to translate)");
            if ((r.GetValue(a2b) is null) != (r.GetValue(b2a) is null)) r.AddError("--model-a2b and --model-b2a go together");
            if (r.GetValue(models) is not { Length: > 0 } && r.GetValue(translated) is not { Length: > 0 } && r.GetValue(a2b) is null)
                r.AddError("nothing to evaluate: give --model (with --input), --translated, or --model-a2b/--model-b2a");
            if (r.GetValue(features) is not null && r.GetValue(real) is null) r.AddError("FID/KID need both --real and --features");
            if (r.GetValue(targetDomain) is not null && r.GetValue(classifier) is null) r.AddError("--target-domain needs --classifier");
            if (r.GetValue(recolour) is not null && r.GetValue(input) is null) r.AddError("--recolour-palette needs --input (the images to recolour)");
        });
        command.SetAction(parse =>
        {
            var io = parse.InvocationConfiguration;
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(io.Error) });
            var translatorOptions = new TranslatorOptions { Provider = parse.GetValue(provider)!, Threads = parse.GetValue(threads) };
            try
            {
                var inputs = parse.GetValue(input) is { } inDir ? LoadFolder(inDir.FullName, io.Error) : [];
                var candidates = new List<Candidate>();
                string? firstDomainOut = null;
                foreach (var m in parse.GetValue(models) ?? [])
                {
                    using var t = Translator.Open(m.FullName, translatorOptions);
                    firstDomainOut ??= t.Model.DomainOut;
                    var images = new List<(string, RgbaImage)>();
                    console.Progress().Start(ctx =>
                    {
                        var task = ctx.AddTask($"translate {m.Name}", maxValue: Math.Max(1, inputs.Count));
                        foreach (var (name, img) in inputs)
                        {
                            images.Add((name, t.Translate(img)));
                            task.Increment(1);
                        }
                    });
                    candidates.Add(new Candidate(UniqueName(Path.GetFileNameWithoutExtension(m.Name), candidates), images));
                }
                foreach (var dir in parse.GetValue(translated) ?? [])
                    candidates.Add(new Candidate(UniqueName(dir.Name, candidates), LoadFolder(dir.FullName, io.Error)));
                if (parse.GetValue(recolour) is { } paletteDir)
                {
                    var palette = PaletteSnap.Palette(LoadFolder(paletteDir.FullName, io.Error).Select(x => x.Image));
                    candidates.Add(new Candidate(UniqueName($"recolour to {paletteDir.Name} palette", candidates),
                        [.. inputs.Select(x => (x.Name, PaletteSnap.Snap(x.Image, palette)))]));
                }

                var rows = candidates.Select(c => new EvalRow(c.Name, c.Images.Count, null, null, null, null, null, null)).ToList();

                // --real alone means FD/KID with the default network; with --classifier it is also the reference row.
                string distance = EvalReport.Fid;
                string? resNet18 = null;
                if (parse.GetValue(features) is null && parse.GetValue(real) is not null && (resNet18 = FeatureExtractor.FindResNet18()) is null)
                {
                    if (parse.GetValue(classifier) is null) throw new ArgumentException(FeatureExtractor.ResNet18Missing);
                    io.Error.WriteLine($"note: no FD/KID: {FeatureExtractor.ResNet18Missing}");
                }
                if (parse.GetValue(features) is not null || resNet18 is not null)
                {
                    var norm = parse.GetValue(normalize) switch
                    {
                        "minus1to1" => FeatureNormalization.MinusOneToOne,
                        "pytorch-fid" => FeatureNormalization.PytorchFid,
                        _ => FeatureNormalization.Imagenet,
                    };
                    using var extractor = resNet18 is not null
                        ? FeatureExtractor.OpenResNet18(resNet18, translatorOptions)
                        : FeatureExtractor.Open(parse.GetValue(features)!.FullName, parse.GetValue(layer), parse.GetValue(imageSize), norm, parse.GetValue(batch), translatorOptions);
                    if (resNet18 is not null)
                    {
                        distance = FeatureExtractor.ResNet18DistanceName;
                        io.Error.WriteLine($"features: ImageNet ResNet-18 from {resNet18} (224x224, 512 values); the distance is {distance}, not Inception FID");
                    }
                    var realSet = RealFeatures(parse.GetValue(real)!.FullName, extractor, parse.GetValue(cacheDir)?.FullName ?? FeatureCache.DefaultDirectory, console, io.Error);
                    for (int i = 0; i < candidates.Count; i++)
                    {
                        if (candidates[i].Images.Count < 2)
                        {
                            io.Error.WriteLine($"warning: {candidates[i].Name}: fewer than 2 images, no FID/KID");
                            continue;
                        }
                        var f = Extract(extractor, candidates[i].Name, candidates[i].Images.Select(x => x.Image).ToList(), console);
                        rows[i] = rows[i] with
                        {
                            Fid = Fid.Distance(GaussianStats.FromFeatures(f), realSet.Stats),
                            Kid = Kid.Compute(f, realSet.Features, parse.GetValue(kidSubset), parse.GetValue(kidSubsets)),
                        };
                    }
                }

                var truthByName = parse.GetValue(truth) is { } truthDir
                    ? LoadFolder(truthDir.FullName, io.Error).ToDictionary(x => x.Name, x => x.Image)
                    : null;
                if (truthByName is not null)
                {
                    for (int i = 0; i < candidates.Count; i++)
                        rows[i] = Paired(rows[i], candidates[i], truthByName, io.Error);
                }

                if (parse.GetValue(classifier) is { } classifierPath)
                {
                    using var c = DomainClassifier.Open(classifierPath.FullName, translatorOptions);
                    string target = parse.GetValue(targetDomain) ?? firstDomainOut
                        ?? throw new ArgumentException("--classifier: give --target-domain (no --model to take the output domain from)");
                    int label = c.LabelIndex(target);
                    io.Error.WriteLine($"classifier: target domain '{c.Labels[label]}' ({(label == 0 ? "A" : "B")}); the other is '{c.Labels[1 - label]}'");
                    for (int i = 0; i < candidates.Count; i++)
                        rows[i] = rows[i] with { TargetRate = c.Rate(candidates[i].Images.Select(x => x.Image).ToList(), label) };
                    // Reference rows: what the classifier says of real target and real source images.
                    if (parse.GetValue(real) is { } realDir)
                    {
                        var images = LoadFolder(realDir.FullName, io.Error).Select(x => x.Image).ToList();
                        rows.Add(new EvalRow($"real target ({realDir.Name})", images.Count, null, null, null, null, null, null, c.Rate(images, label)));
                    }
                    if (inputs.Count > 0)
                        rows.Add(new EvalRow($"real source ({parse.GetValue(input)!.Name})", inputs.Count, null, null, null, null, null, null,
                            c.Rate(inputs.Select(x => x.Image).ToList(), label)));
                }

                if (parse.GetValue(a2b) is { } forward && parse.GetValue(b2a) is { } backward)
                {
                    using var ab = Translator.Open(forward.FullName, translatorOptions);
                    using var ba = Translator.Open(backward.FullName, translatorOptions);
                    double sum = 0;
                    foreach (var (_, img) in inputs) sum += ImageMetrics.L1(img, ba.Translate(ab.Translate(img)));
                    string name = $"cycle {Path.GetFileNameWithoutExtension(forward.Name)} → {Path.GetFileNameWithoutExtension(backward.Name)}";
                    rows.Add(new EvalRow(name, inputs.Count, null, null, null, null, null, inputs.Count > 0 ? sum / inputs.Count : null));
                }

                string outDir = parse.GetValue(output)!.FullName;
                WriteReport(outDir, rows, inputs, candidates, truthByName, parse.GetValue(gridCount), distance);
                io.Output.Write(EvalReport.Markdown(rows, distance));
                io.Output.WriteLine($"report: {Path.Combine(outDir, "index.html")}");
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                io.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.ForStartError(e);
            }
        });
        return command;
    }

    /// <summary>Every readable image of a folder (sorted by name); unreadable ones are reported and skipped.</summary>
    private static List<(string Name, RgbaImage Image)> LoadFolder(string dir, TextWriter error)
    {
        var images = new List<(string, RgbaImage)>();
        foreach (string file in ImageFiles(dir))
        {
            try
            {
                images.Add((Path.GetFileNameWithoutExtension(file), ImageCodec.Decode(file)));
            }
            catch (ImageDecodeException e)
            {
                error.WriteLine($"warning: skipped {e.Message}");
            }
        }
        if (images.Count == 0) throw new ArgumentException($"{dir}: no readable images");
        return images;
    }

    private static List<string> ImageFiles(string dir) =>
        Directory.EnumerateFiles(dir).Where(ImageCodec.IsSupportedExtension).Order(StringComparer.Ordinal).ToList();

    private static string UniqueName(string name, List<Candidate> existing)
    {
        string unique = name;
        for (int i = 2; existing.Any(c => c.Name == unique); i++) unique = $"{name} ({i})";
        return unique;
    }

    private static FeatureSet RealFeatures(string dir, FeatureExtractor extractor, string cacheDir, IAnsiConsole console, TextWriter error)
    {
        string key = FeatureCache.Key(ImageFiles(dir), extractor);
        if (FeatureCache.TryLoad(cacheDir, key) is { } cached)
        {
            error.WriteLine($"real set: {cached.Features.Count} images, features from cache");
            return cached;
        }
        var images = LoadFolder(dir, error).Select(x => x.Image).ToList();
        if (images.Count < 2) throw new ArgumentException($"{dir}: FID needs at least 2 real images");
        var f = Extract(extractor, "real", images, console);
        var set = new FeatureSet(f, GaussianStats.FromFeatures(f));
        FeatureCache.Save(cacheDir, key, set);
        return set;
    }

    private static List<float[]> Extract(FeatureExtractor extractor, string name, List<RgbaImage> images, IAnsiConsole console)
    {
        List<float[]> features = [];
        console.Progress().Start(ctx =>
        {
            var task = ctx.AddTask($"features {name}", maxValue: images.Count);
            features = extractor.Extract(images, done => task.Value = done);
        });
        return features;
    }

    private static EvalRow Paired(EvalRow row, Candidate candidate, Dictionary<string, RgbaImage> truth, TextWriter error)
    {
        double psnr = 0, ssim = 0, l1 = 0;
        int n = 0, infinite = 0;
        foreach (var (name, img) in candidate.Images)
        {
            if (!truth.TryGetValue(name, out var target))
            {
                error.WriteLine($"warning: {candidate.Name}/{name}: no ground truth of that name");
                continue;
            }
            if (target.Width != img.Width || target.Height != img.Height)
            {
                error.WriteLine($"warning: {candidate.Name}/{name}: {img.Width}x{img.Height} but the ground truth is {target.Width}x{target.Height}; skipped");
                continue;
            }
            double p = ImageMetrics.Psnr(img, target);
            if (double.IsPositiveInfinity(p)) infinite++;
            else psnr += p;
            ssim += ImageMetrics.Ssim(img, target);
            l1 += ImageMetrics.L1(img, target);
            n++;
        }
        if (n == 0) return row;
        // Mean PSNR over pairs; identical pairs (infinite PSNR) make the mean infinite.
        return row with { Psnr = infinite > 0 ? double.PositiveInfinity : psnr / n, Ssim = ssim / n, L1 = l1 / n };
    }

    private static void WriteReport(string outDir, List<EvalRow> rows, List<(string Name, RgbaImage Image)> inputs, List<Candidate> candidates,
        Dictionary<string, RgbaImage>? truthByName, int gridCount, string distance)
    {
        Directory.CreateDirectory(Path.Combine(outDir, "grid"));
        var names = inputs.Count > 0 ? inputs.Select(x => x.Name).ToList() : candidates.SelectMany(c => c.Images.Select(x => x.Name)).Distinct().Order(StringComparer.Ordinal).ToList();
        var grid = new List<(string, IReadOnlyList<string?>)>();
        var columns = new List<string>();
        if (inputs.Count > 0) columns.Add("input");
        columns.AddRange(candidates.Select(c => c.Name));
        if (truthByName is not null) columns.Add("ground truth");
        var sheetRows = new List<IReadOnlyList<RgbaImage?>>();
        foreach (string name in names.Take(gridCount))
        {
            var cells = new List<string?>();
            var images = new List<RgbaImage?>();
            void Add(string column, RgbaImage? image)
            {
                cells.Add(image is null ? null : SaveGridImage(outDir, column, name, image));
                images.Add(image);
            }
            if (inputs.Count > 0) Add("input", inputs.First(x => x.Name == name).Image);
            for (int i = 0; i < candidates.Count; i++)
                Add($"c{i}", candidates[i].Images.FirstOrDefault(x => x.Name == name).Image);
            if (truthByName is not null) Add("truth", truthByName.GetValueOrDefault(name));
            grid.Add((name, cells));
            sheetRows.Add(images);
        }
        // The same grid as one picture (for READMEs and model cards): a row per example, a column per image kind.
        if (sheetRows.Count > 0)
            AtomicFile.WriteAllBytes(Path.Combine(outDir, "grid.png"), ImageCodec.Encode(ContactSheet.Compose(sheetRows, cellSize: 96), ImageFormat.Png));
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "results.md"), System.Text.Encoding.UTF8.GetBytes(EvalReport.Markdown(rows, distance)));
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "results.csv"), System.Text.Encoding.UTF8.GetBytes(EvalReport.Csv(rows, distance)));
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "index.html"), System.Text.Encoding.UTF8.GetBytes(EvalReport.Html(rows, columns, grid, distance)));
    }

    private static string SaveGridImage(string outDir, string column, string name, RgbaImage image)
    {
        string relative = $"grid/{column}_{name}.png";
        AtomicFile.WriteAllBytes(Path.Combine(outDir, relative), ImageCodec.Encode(image, ImageFormat.Png));
        return relative;
    }
}
