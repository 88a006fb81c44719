using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Metrics;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>
/// What one evaluation compares and against what (cyclegan-run eval's options). Paths are files or folders; null or
/// empty leaves a metric out. Which combinations make sense is the command line's rule (a candidate to evaluate,
/// --input for models, --real with --features), so a library caller gets the same results for the same record.
/// </summary>
public sealed record EvalOptions
{
    /// <summary>Generators whose translations of <see cref="Input"/> are evaluated, one row each.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    /// <summary>Source-domain images the models translate.</summary>
    public string? Input { get; init; }
    /// <summary>Folders of already translated images, one row each.</summary>
    public IReadOnlyList<string> Translated { get; init; } = [];
    /// <summary>Real target-domain images: the FID/KID reference and the classifier's reference row.</summary>
    public string? Real { get; init; }
    /// <summary>Target images paired with the candidates' images by file name (PSNR, SSIM, L1).</summary>
    public string? GroundTruth { get; init; }
    /// <summary>ONNX feature network for FID/KID; null with <see cref="Real"/> means the ImageNet ResNet-18, if found.</summary>
    public string? Features { get; init; }
    /// <summary>False leaves FD/KID out even with <see cref="Real"/> (the feature network is the slow part): to recheck the other scores quickly.</summary>
    public bool FeatureDistances { get; init; } = true;
    public string? Layer { get; init; }
    public int ImageSize { get; init; } = 299;
    public FeatureNormalization Normalization { get; init; } = FeatureNormalization.Imagenet;
    /// <summary>Images per feature network run.</summary>
    public int Batch { get; init; } = 16;
    public int KidSubsetSize { get; init; } = 1000;
    public int KidSubsets { get; init; } = 100;
    /// <summary>With <see cref="ModelB2A"/>: cycle L1 of <see cref="Input"/> through A→B→A.</summary>
    public string? ModelA2B { get; init; }
    public string? ModelB2A { get; init; }
    /// <summary>Domain classifier ONNX (cyclegan-train classifier): share of images classified as the target domain.</summary>
    public string? Classifier { get; init; }
    /// <summary>The classifier's target domain, by name or A/B; null takes the first model's output domain.</summary>
    public string? TargetDomain { get; init; }
    /// <summary>A baseline row: <see cref="Input"/> snapped to a 32-colour palette of this folder's images.</summary>
    public string? RecolourPalette { get; init; }
    /// <summary>Bootstrap resamples behind every 95 % interval (groups of images drawn with replacement, <see cref="Bootstrap"/>); 0 leaves the intervals out.</summary>
    public int Resamples { get; init; } = Bootstrap.DefaultResamples;
    public string OutputDirectory { get; init; } = "eval-report";
    /// <summary>Example inputs shown in index.html and grid.png.</summary>
    public int GridCount { get; init; } = 8;
    /// <summary>Where real-set features are cached.</summary>
    public string CacheDirectory { get; init; } = FeatureCache.DefaultDirectory;
    /// <summary>Provider and threads of every session (models, feature network, classifier).</summary>
    public TranslatorOptions Sessions { get; init; } = new();
}

/// <summary>The report's rows, the name of its Fréchet distance column, and its index.html.</summary>
public sealed record EvalResult(IReadOnlyList<EvalRow> Rows, string DistanceName, string ReportPath);

/// <summary>
/// Runs <paramref name="work"/> as one long step of <paramref name="total"/> items; the work reports how many are
/// done. cyclegan-run shows it as a progress bar; a library caller may leave it out.
/// </summary>
public delegate void ProgressScope(string description, int total, Action<Action<int>> work);

/// <summary>
/// One evaluation (cyclegan-run eval), step by step: load the inputs; make the candidates (translations by each
/// model, folders of translations, the recolouring baseline); Fréchet distance and KID against real images;
/// PSNR/SSIM/L1 against paired ground truth; classifier rates with real reference rows; cycle L1 of an A→B, B→A
/// pair; then results.md, results.csv, index.html and grid.png in the output folder.
/// </summary>
/// <remarks>
/// A mistake in the options or the files (no readable images, a missing feature network, an unknown target domain)
/// is an <see cref="ArgumentException"/>; a file that is not a model an <see cref="InvalidModelException"/>; a provider
/// this build lacks a <see cref="ProviderUnavailableException"/>. Notes and warnings (skipped images, pairs without
/// ground truth) go to the log, one line each.
/// </remarks>
public sealed class EvalRun
{
    private sealed record Candidate(string Name, List<(string Name, RgbaImage Image)> Images);

    private readonly EvalOptions _o;
    private readonly TextWriter _log;
    private readonly ProgressScope _progress;
    // Every image a metric, the classifier, the features or the grid see is composited onto this background, the way
    // translate feeds a model: raw RGBA files (inputs, outputs that kept their alpha, ground truth) give honest scores.
    private readonly ImagePreprocessing _view;

    private EvalRun(EvalOptions options, TextWriter log, ProgressScope? progress)
    {
        _o = options;
        _log = log;
        _progress = progress ?? ((_, _, work) => work(_ => { }));
        _view = MetricsPreprocessing(options);
    }

    /// <summary>The first model's recorded background; white when no model records one (--translated alone, older files, alpha drop).</summary>
    private static ImagePreprocessing MetricsPreprocessing(EvalOptions options)
    {
        var white = ImagePreprocessing.CompositeOnWhite("resize_and_crop", 286);
        string? first = options.Models.Count > 0 ? options.Models[0] : options.ModelA2B;
        if (first is null) return white;
        try
        {
            var recorded = ImagePreprocessing.FromMetadata(ModelFileCheck.ReadMetadata(first), out _);
            return recorded is { Composites: true } ? recorded : white;
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            return white; // a damaged or unreadable file: opening the model reports the problem in its own words
        }
    }

    public static EvalResult Run(EvalOptions options, TextWriter log, ProgressScope? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(log);
        return new EvalRun(options, log, progress).Run();
    }

    private EvalResult Run()
    {
        // Models translate the files as they are (Translator composites them as each model says); everything else sees them composited.
        var rawInputs = _o.Input is { } inputDir ? LoadFolder(inputDir, composite: false) : [];
        var inputs = rawInputs.Select(x => (x.Name, _view.Composite(x.Image))).ToList();
        var (candidates, firstDomainOut) = Candidates(rawInputs, inputs);
        var rows = candidates.Select(c => new EvalRow(c.Name, c.Images.Count, null, null, null, null, null, null)).ToList();
        string distance = AddFeatureDistances(rows, candidates);
        var truthByName = _o.GroundTruth is { } truthDir ? LoadFolder(truthDir).ToDictionary(x => x.Name, x => x.Image) : null;
        var pairScores = new List<Dictionary<string, PairScores>>();
        if (truthByName is not null)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                pairScores.Add(PairScoresOf(candidates[i], truthByName));
                rows[i] = Paired(rows[i], pairScores[i]);
            }
        }
        if (_o.Classifier is { } classifier) AddClassifierRates(rows, candidates, inputs, classifier, firstDomainOut);
        if (_o.ModelA2B is { } forward && _o.ModelB2A is { } backward) rows.Add(CycleRow(rawInputs, forward, backward));
        // Each model against each baseline (the other candidates: unchanged input, recolouring), pair by pair.
        if (pairScores.Count > 0)
            for (int m = 0; m < _o.Models.Count; m++)
                for (int b = _o.Models.Count; b < candidates.Count; b++)
                    if (Difference($"{candidates[m].Name} − {candidates[b].Name}", pairScores[m], pairScores[b]) is { } diff) rows.Add(diff);

        string outDir = Path.GetFullPath(_o.OutputDirectory);
        WriteReport(outDir, rows, inputs, candidates, truthByName, distance);
        return new EvalResult(rows, distance, Path.Combine(outDir, "index.html"));
    }

    /// <summary>The rows to compare, in report order: each model's translations, each folder, the recolouring baseline.</summary>
    private (List<Candidate> Candidates, string? FirstDomainOut) Candidates(List<(string Name, RgbaImage Image)> rawInputs, List<(string Name, RgbaImage Image)> inputs)
    {
        var candidates = new List<Candidate>();
        string? firstDomainOut = null;
        foreach (string modelPath in _o.Models)
        {
            using var t = Translator.Open(modelPath, _o.Sessions);
            firstDomainOut ??= t.Model.DomainOut;
            var images = new List<(string, RgbaImage)>();
            string fileName = Path.GetFileName(modelPath);
            _progress($"translate {fileName}", Math.Max(1, rawInputs.Count), done =>
            {
                foreach (var (name, img) in rawInputs)
                {
                    images.Add((name, _view.Composite(t.Translate(img))));
                    done(images.Count);
                }
            });
            candidates.Add(new Candidate(UniqueName(Path.GetFileNameWithoutExtension(fileName), candidates), images));
        }
        foreach (string dir in _o.Translated)
            candidates.Add(new Candidate(UniqueName(new DirectoryInfo(dir).Name, candidates), LoadFolder(dir)));
        if (_o.RecolourPalette is { } paletteDir)
        {
            var palette = PaletteSnap.Palette(LoadFolder(paletteDir).Select(x => x.Image));
            candidates.Add(new Candidate(UniqueName($"recolour to {new DirectoryInfo(paletteDir).Name} palette", candidates),
                [.. inputs.Select(x => (x.Name, PaletteSnap.Snap(x.Image, palette)))]));
        }
        return (candidates, firstDomainOut);
    }

    /// <summary>FD/FID and KID of each candidate against the real set; returns the distance column's name.</summary>
    private string AddFeatureDistances(List<EvalRow> rows, List<Candidate> candidates)
    {
        // --real alone means FD/KID with the default network; with --classifier it is also the reference row.
        string distance = EvalReport.Fid;
        if (!_o.FeatureDistances) return distance;
        string? resNet18 = null;
        if (_o.Features is null && _o.Real is not null && (resNet18 = FeatureExtractor.FindResNet18()) is null)
        {
            if (_o.Classifier is null) throw new ArgumentException(FeatureExtractor.ResNet18Missing);
            _log.WriteLine($"note: no FD/KID: {FeatureExtractor.ResNet18Missing}");
        }
        if (_o.Features is null && resNet18 is null) return distance;

        using var extractor = resNet18 is not null
            ? FeatureExtractor.OpenResNet18(resNet18, _o.Sessions)
            : FeatureExtractor.Open(_o.Features!, _o.Layer, _o.ImageSize, _o.Normalization, _o.Batch, _o.Sessions);
        if (resNet18 is not null)
        {
            distance = FeatureExtractor.ResNet18DistanceName;
            _log.WriteLine($"features: ImageNet ResNet-18 from {resNet18} (224x224, 512 values); the distance is {distance}, not Inception FID");
        }
        // FID/KID need --real: the command line rejects --features without it.
        var realSet = RealFeatures(_o.Real!, extractor);
        for (int i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Images.Count < 2)
            {
                _log.WriteLine($"warning: {candidates[i].Name}: fewer than 2 images, no FID/KID");
                continue;
            }
            var f = Extract(extractor, candidates[i].Name, candidates[i].Images.Select(x => x.Image).ToList());
            var names = candidates[i].Images.Select(x => x.Name).ToList();
            rows[i] = rows[i] with
            {
                Fid = Fid.Distance(GaussianStats.FromFeatures(f), realSet.Stats),
                Kid = Kid.Compute(f, realSet.Features, _o.KidSubsetSize, _o.KidSubsets),
                // The real set stays fixed: the interval is how much FD moves with the choice of evaluated images.
                Ci = _o.Resamples > 0 ? Ci(rows[i]) with { Fid = Bootstrap.FrechetDistance(f, names, realSet.Stats, _o.Resamples) } : rows[i].Ci,
            };
        }
        return distance;
    }

    private void AddClassifierRates(List<EvalRow> rows, List<Candidate> candidates, List<(string Name, RgbaImage Image)> inputs, string classifierPath, string? firstDomainOut)
    {
        using var c = DomainClassifier.Open(classifierPath, _o.Sessions);
        string target = _o.TargetDomain ?? firstDomainOut
            ?? throw new ArgumentException("--classifier: give --target-domain (no --model to take the output domain from)");
        int label = c.LabelIndex(target);
        _log.WriteLine($"classifier: target domain '{c.Labels[label]}' ({(label == 0 ? "A" : "B")}); the other is '{c.Labels[1 - label]}'");
        // The share and its interval, resampled by group like every other score.
        EvalRow Rated(EvalRow row, List<(string Name, RgbaImage Image)> images)
        {
            double[] hits = [.. c.Hits(images.Select(x => x.Image).ToList(), label).Select(h => h ? 1.0 : 0.0)];
            return row with
            {
                TargetRate = hits.Average(),
                Ci = _o.Resamples > 0 ? Ci(row) with { TargetRate = Bootstrap.Mean(hits, images.Select(x => x.Name).ToList(), _o.Resamples) } : row.Ci,
            };
        }
        for (int i = 0; i < candidates.Count; i++) rows[i] = Rated(rows[i], candidates[i].Images);
        // Reference rows: what the classifier says of real target and real source images.
        if (_o.Real is { } realDir)
        {
            var images = LoadFolder(realDir);
            rows.Add(Rated(new EvalRow($"real target ({new DirectoryInfo(realDir).Name})", images.Count, null, null, null, null, null, null), images));
        }
        if (inputs.Count > 0)
            rows.Add(Rated(new EvalRow($"real source ({new DirectoryInfo(_o.Input!).Name})", inputs.Count, null, null, null, null, null, null), inputs));
    }

    private static RowIntervals Ci(EvalRow row) => row.Ci ?? new RowIntervals();

    private EvalRow CycleRow(List<(string Name, RgbaImage Image)> inputs, string forward, string backward)
    {
        using var ab = Translator.Open(forward, _o.Sessions);
        using var ba = Translator.Open(backward, _o.Sessions);
        double sum = 0;
        foreach (var (_, img) in inputs) sum += ImageMetrics.L1(_view.Composite(img), _view.Composite(ba.Translate(ab.Translate(img))));
        string name = $"cycle {Path.GetFileNameWithoutExtension(forward)} → {Path.GetFileNameWithoutExtension(backward)}";
        return new EvalRow(name, inputs.Count, null, null, null, null, null, inputs.Count > 0 ? sum / inputs.Count : null);
    }

    /// <summary>Every readable image of a folder (sorted by name), composited onto the background unless told not to; unreadable ones are reported and skipped.</summary>
    private List<(string Name, RgbaImage Image)> LoadFolder(string dir, bool composite = true)
    {
        dir = Path.GetFullPath(dir);
        var images = new List<(string, RgbaImage)>();
        foreach (string file in ImageFiles(dir))
        {
            try
            {
                var image = ImageCodec.Decode(file);
                images.Add((Path.GetFileNameWithoutExtension(file), composite ? _view.Composite(image) : image));
            }
            catch (ImageDecodeException e)
            {
                _log.WriteLine($"warning: skipped {e.Message}");
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

    private FeatureSet RealFeatures(string dir, FeatureExtractor extractor)
    {
        dir = Path.GetFullPath(dir);
        string key = FeatureCache.Key(ImageFiles(dir), extractor, _view.Background);
        if (FeatureCache.TryLoad(_o.CacheDirectory, key) is { } cached)
        {
            _log.WriteLine($"real set: {cached.Features.Count} images, features from cache");
            return cached;
        }
        var images = LoadFolder(dir).Select(x => x.Image).ToList();
        if (images.Count < 2) throw new ArgumentException($"{dir}: FID needs at least 2 real images");
        var f = Extract(extractor, "real", images);
        var set = new FeatureSet(f, GaussianStats.FromFeatures(f));
        FeatureCache.Save(_o.CacheDirectory, key, set);
        return set;
    }

    private List<float[]> Extract(FeatureExtractor extractor, string name, List<RgbaImage> images)
    {
        List<float[]> features = [];
        _progress($"features {name}", images.Count, done => features = extractor.Extract(images, done));
        return features;
    }

    /// <summary>PSNR, SSIM and L1 of one image against its ground truth.</summary>
    private readonly record struct PairScores(double Psnr, double Ssim, double L1);

    /// <summary>The scores of every candidate image that has a ground truth of its name and size, by name.</summary>
    private Dictionary<string, PairScores> PairScoresOf(Candidate candidate, Dictionary<string, RgbaImage> truth)
    {
        var scores = new Dictionary<string, PairScores>();
        foreach (var (name, img) in candidate.Images)
        {
            if (!truth.TryGetValue(name, out var target))
            {
                _log.WriteLine($"warning: {candidate.Name}/{name}: no ground truth of that name");
                continue;
            }
            if (target.Width != img.Width || target.Height != img.Height)
            {
                _log.WriteLine($"warning: {candidate.Name}/{name}: {img.Width}x{img.Height} but the ground truth is {target.Width}x{target.Height}; skipped");
                continue;
            }
            scores[name] = new PairScores(ImageMetrics.Psnr(img, target), ImageMetrics.Ssim(img, target), ImageMetrics.L1(img, target));
        }
        return scores;
    }

    /// <summary>Mean PSNR, SSIM and L1 over the pairs, with intervals; identical pairs (infinite PSNR) make the mean PSNR infinite and leave out its interval.</summary>
    private EvalRow Paired(EvalRow row, Dictionary<string, PairScores> scores) => scores.Count == 0 ? row : MeanScores(row, [.. scores.Keys], [.. scores.Values]);

    private EvalRow MeanScores(EvalRow row, List<string> names, List<PairScores> scores)
    {
        double[] psnr = [.. scores.Select(s => s.Psnr)], ssim = [.. scores.Select(s => s.Ssim)], l1 = [.. scores.Select(s => s.L1)];
        bool finite = psnr.All(double.IsFinite);
        return row with
        {
            Psnr = finite ? psnr.Average() : double.PositiveInfinity,
            Ssim = ssim.Average(),
            L1 = l1.Average(),
            Ci = _o.Resamples > 0
                ? Ci(row) with
                {
                    Psnr = finite ? Bootstrap.Mean(psnr, names, _o.Resamples) : null,
                    Ssim = Bootstrap.Mean(ssim, names, _o.Resamples),
                    L1 = Bootstrap.Mean(l1, names, _o.Resamples),
                }
                : row.Ci,
        };
    }

    /// <summary>
    /// The row "<paramref name="name"/>": mean of <paramref name="a"/> minus <paramref name="b"/> pair by pair on the
    /// names both have, with intervals from the same resamples of those pairs; null when they share none. An infinite
    /// PSNR on either side leaves the PSNR difference out.
    /// </summary>
    private EvalRow? Difference(string name, Dictionary<string, PairScores> a, Dictionary<string, PairScores> b)
    {
        var names = a.Keys.Where(b.ContainsKey).Order(StringComparer.Ordinal).ToList();
        if (names.Count == 0) return null;
        var diffs = names.Select(n => new PairScores(a[n].Psnr - b[n].Psnr, a[n].Ssim - b[n].Ssim, a[n].L1 - b[n].L1)).ToList();
        var row = MeanScores(new EvalRow(name, names.Count, null, null, null, null, null, null), names, diffs);
        return diffs.All(d => double.IsFinite(d.Psnr)) ? row : row with { Psnr = null, Ci = row.Ci is { } ci ? ci with { Psnr = null } : null };
    }

    private void WriteReport(string outDir, List<EvalRow> rows, List<(string Name, RgbaImage Image)> inputs, List<Candidate> candidates,
        Dictionary<string, RgbaImage>? truthByName, string distance)
    {
        Directory.CreateDirectory(Path.Combine(outDir, "grid"));
        var names = inputs.Count > 0 ? inputs.Select(x => x.Name).ToList() : candidates.SelectMany(c => c.Images.Select(x => x.Name)).Distinct().Order(StringComparer.Ordinal).ToList();
        var grid = new List<(string, IReadOnlyList<string?>)>();
        var columns = new List<string>();
        if (inputs.Count > 0) columns.Add("input");
        columns.AddRange(candidates.Select(c => c.Name));
        if (truthByName is not null) columns.Add("ground truth");
        var sheetRows = new List<IReadOnlyList<RgbaImage?>>();
        foreach (string name in names.Take(_o.GridCount))
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
