using System.Diagnostics;
using System.Globalization;
using System.Text;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>Settings shared by every data kind.</summary>
public sealed record PrepOptions
{
    /// <summary>Dataset root that receives trainA, trainB, testA, testB and DATASET.md.</summary>
    public required string Output { get; init; }
    public int Seed { get; init; }
    public double TestFraction { get; init; } = 0.1;
    /// <summary>Output side length; 0 keeps each image's size.</summary>
    public int Size { get; init; } = 64;
    /// <summary>Replace a dataset already in Output.</summary>
    public bool Force { get; init; }
    public string Cache { get; init; } = NpmPackage.DefaultCacheFolder();
    /// <summary>The command line, recorded in DATASET.md so the set can be made again.</summary>
    public string Command { get; init; } = "";
}

/// <summary>The datasets <c>cyclegan-train data</c> makes: emoji styles, colorization, masked completion, user folders.</summary>
public static class DataKinds
{
    public const string EmojiVersion = "16.0.0";
    public const string GooglePackage = "emoji-datasource-google";
    public const string TwitterPackage = "emoji-datasource-twitter";

    private const string NotoCredit =
        "Noto Emoji images by Google, Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0), " +
        $"from the npm package `{GooglePackage}` {EmojiVersion} (emoji-data by Cal Henderson, MIT).";
    private const string TwemojiCredit =
        "Twemoji graphics copyright Twitter, Inc and other contributors, licensed CC BY 4.0 " +
        "(https://creativecommons.org/licenses/by/4.0/), " +
        $"from the npm package `{TwitterPackage}` {EmojiVersion} (emoji-data by Cal Henderson, MIT). Credit them when you share results.";

    public const string FluentVersion = "1.1.0";
    public const string FluentFlatPackage = "@lobehub/fluent-emoji-flat";
    public const string Fluent3dPackage = "@lobehub/fluent-emoji-3d";
    /// <summary>The 3D set's images are 256x256; the flat SVGs are drawn at the same size before the common resize.</summary>
    private const int FluentDrawSide = 256;

    private const string FluentCredit =
        "Fluent Emoji by Microsoft, MIT License (https://github.com/microsoft/fluentui-emoji), from the npm packages " +
        $"`{FluentFlatPackage}` (flat style, SVG, drawn to pixels with Svg.Skia) and `{Fluent3dPackage}` (3D style, 256x256 WebP), " +
        $"version {FluentVersion}, published by LobeHub (MIT).";

    /// <summary>
    /// Microsoft's Fluent Emoji in two renderings of the same drawings: flat (A) and 3D (B). Shapes match, so the
    /// task is shading and texture style, and the true 3D image of every test emoji is known.
    /// </summary>
    public static DatasetCounts Fluent(PrepOptions options, TextWriter log, CancellationToken ct = default)
    {
        CheckOutput(options);
        string flatSvg = Path.Combine(NpmPackage.Fetch(FluentFlatPackage, FluentVersion, options.Cache,
            name => name is "package.json" or "README.md" || (name.StartsWith("assets/", StringComparison.Ordinal) && name.EndsWith(".svg", StringComparison.Ordinal)),
            log, ct), "assets");
        string threeD = Path.Combine(NpmPackage.Fetch(Fluent3dPackage, FluentVersion, options.Cache,
            name => name is "package.json" or "README.md" || (name.StartsWith("assets/", StringComparison.Ordinal) && name.EndsWith(".webp", StringComparison.Ordinal)),
            log, ct), "assets");
        string flat = SvgRaster.DrawFolder(flatSvg, Path.Combine(options.Cache, $"fluent-flat-{FluentVersion}-{FluentDrawSide}px"), FluentDrawSide, log, ct);
        var namesA = Names(flat, "*.png");
        var namesB = Names(threeD, "*.webp");
        var inBoth = namesA.Intersect(namesB, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        // The 3D package has no 3D drawing of the country flags: it ships their flat drawing (35-45 dB from it at
        // 64 px, every other emoji below 30), so they are no examples of the 3D style and would teach copying.
        var shared = inBoth.Where(n => !IsCountryFlag(n)).ToArray();
        if (shared.Length == 0)
            throw new DatasetException($"{flat} and {threeD} have no emoji in common.");
        log.WriteLine($"fluent: {namesA.Count} flat, {namesB.Count} 3D, {inBoth.Length} in both, " +
                      $"{inBoth.Length - shared.Length} country flags left out (the 3D set draws them flat)");
        var a = shared.Select(n => new SourceImage(n, EmojiGroup(n), Path.Combine(flat, n + ".png"))).ToArray();
        var b = shared.Select(n => new SourceImage(n, EmojiGroup(n), Path.Combine(threeD, n + ".webp"))).ToArray();
        return Make(options, "Fluent Emoji styles: flat (A) to 3D (B)", a, b, log, ct,
            what: ("Fluent flat emoji", "Fluent 3D emoji"),
            sources: [FluentCredit],
            notes: "Emoji are split by code point; an emoji and its skin-tone variants count as one, so the two " +
                   "training folders never show the same emoji in either style. Test pairs share file names " +
                   "(the code point): testA/x.png and testB/x.png are the same emoji in the two styles.");
    }

    /// <summary>Noto (A) and Twemoji (B) styles of the emoji both sets draw; skin tones stay with their base emoji.</summary>
    public static DatasetCounts Emoji(PrepOptions options, TextWriter log, CancellationToken ct = default)
    {
        CheckOutput(options);
        string google = EmojiImages(GooglePackage, "google", options.Cache, log, ct);
        string twitter = EmojiImages(TwitterPackage, "twitter", options.Cache, log, ct);
        var namesA = Names(google, "*.png");
        var namesB = Names(twitter, "*.png");
        var shared = namesA.Intersect(namesB, StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (shared.Length == 0)
            throw new DatasetException($"{google} and {twitter} have no emoji in common.");
        log.WriteLine($"emoji: {namesA.Count} Noto, {namesB.Count} Twemoji, {shared.Length} drawn by both");
        var a = shared.Select(n => new SourceImage(n, EmojiGroup(n), Path.Combine(google, n + ".png"))).ToArray();
        var b = shared.Select(n => new SourceImage(n, EmojiGroup(n), Path.Combine(twitter, n + ".png"))).ToArray();
        return Make(options, "Emoji styles: Noto (A) to Twemoji (B)", a, b, log, ct,
            what: ("Noto emoji", "Twemoji emoji"),
            sources: [NotoCredit, TwemojiCredit],
            notes: "Emoji are split by code point; an emoji and its skin-tone variants count as one, so the two " +
                   "training folders never show the same emoji in either style. Test pairs share file names " +
                   "(the code point): testA/x.png and testB/x.png are the same emoji in the two styles.");
    }

    /// <summary>Gray (A) to colour (B); the test split keeps each image's true colour under the same name.</summary>
    public static DatasetCounts Colorize(PrepOptions options, string? from, TextWriter log, CancellationToken ct = default)
    {
        CheckOutput(options);
        var (a, b, credit) = Pool(options, from, ImageChange.Gray, log, ct);
        return Make(options, "Colorization: gray (A) to colour (B)", a, b, log, ct,
            what: ("grayscale (stored as RGB, R = G = B)", "colour"),
            sources: [credit],
            notes: "Each source image lands in one training folder only: trainA holds the gray version of some images, " +
                   "trainB the colour version of others. testA/x.png is the gray of testB/x.png (the known answer).");
    }

    /// <summary>Images with a seeded gray rectangle (A) to complete images (B); the test split keeps the truth.</summary>
    public static DatasetCounts Masked(PrepOptions options, string? from, TextWriter log, CancellationToken ct = default)
    {
        CheckOutput(options);
        var (a, b, credit) = Pool(options, from, ImageChange.Mask, log, ct);
        return Make(options, "Masked completion: masked (A) to complete (B)", a, b, log, ct,
            what: ("a mid-gray rectangle (1/4 to 1/2 of each side) hides part of the image", "complete images"),
            sources: [credit],
            notes: "The rectangle is drawn from the seed and the file name. Each source image lands in one training " +
                   "folder only. testB/x.png is the complete version of testA/x.png (the known answer).");
    }

    /// <summary>Any two folders of images; files with the same name in both are treated as a pair.</summary>
    public static DatasetCounts FromFolders(PrepOptions options, string a, string b, TextWriter log, CancellationToken ct = default)
    {
        CheckOutput(options);
        return Make(options, $"{Path.GetFileName(Path.GetFullPath(a))} (A) to {Path.GetFileName(Path.GetFullPath(b))} (B)",
            SourceFolder.List(a), SourceFolder.List(b), log, ct,
            what: ($"images from {Path.GetFullPath(a)}", $"images from {Path.GetFullPath(b)}"),
            sources: [$"User images from {Path.GetFullPath(a)} and {Path.GetFullPath(b)}: their licenses apply."],
            notes: "Names found in both folders are pairs: a test fraction of them keeps both versions (testA/x, testB/x), " +
                   "the rest go to one training folder only. Names found in one folder are split into its own test and train folders.");
    }

    /// <summary>The A and B folders inside a folder for <c>--from</c>: A and B, or its only two subfolders in name order.</summary>
    public static (string A, string B) DomainFolders(string folder)
    {
        if (!Directory.Exists(folder))
            throw new DatasetException($"{folder}: folder not found.");
        string a = Path.Combine(folder, "A"), b = Path.Combine(folder, "B");
        if (Directory.Exists(a) && Directory.Exists(b))
            return (a, b);
        var subfolders = Directory.GetDirectories(folder).Order(StringComparer.Ordinal).ToArray();
        if (subfolders.Length == 2)
            return (subfolders[0], subfolders[1]);
        throw new DatasetException(
            $"{folder}: expected subfolders A and B (or exactly two subfolders), found {subfolders.Length}; or pass --a and --b.");
    }

    /// <summary>
    /// The pool for colorize/masked: the user's folder, or the Twemoji set (fetched once, then offline), whose
    /// skin-tone variants are grouped with their base emoji so near-copies never sit in both training folders.
    /// </summary>
    private static (IReadOnlyList<SourceImage> A, IReadOnlyList<SourceImage> B, string Credit) Pool(
        PrepOptions options, string? from, ImageChange changeA, TextWriter log, CancellationToken ct)
    {
        if (from is not null)
            return (SourceFolder.List(from, changeA), SourceFolder.List(from), $"User images from {Path.GetFullPath(from)}: their license applies.");
        var twemoji = SourceFolder.List(EmojiImages(TwitterPackage, "twitter", options.Cache, log, ct))
            .Select(s => s with { Group = EmojiGroup(s.Key) }).ToArray();
        return (twemoji.Select(s => s with { Change = changeA }).ToArray(), twemoji, TwemojiCredit);
    }

    private static string EmojiImages(string package, string set, string cache, TextWriter log, CancellationToken ct)
    {
        string prefix = $"img/{set}/64/";
        string folder = NpmPackage.Fetch(package, EmojiVersion, cache,
            name => name is "emoji.json" or "LICENSE" or "package.json"
                    || (name.StartsWith(prefix, StringComparison.Ordinal) && name.EndsWith(".png", StringComparison.Ordinal)),
            log, ct);
        return Path.Combine(folder, "img", set, "64");
    }

    private static HashSet<string> Names(string folder, string pattern) =>
        Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, pattern).Select(Path.GetFileNameWithoutExtension).OfType<string>().ToHashSet(StringComparer.Ordinal)
            : throw new DatasetException($"{folder}: folder not found (delete the cache folder above it and run again).");

    /// <summary>A country flag is a pair of regional indicator symbols (U+1F1E6..U+1F1FF): "1f1ef-1f1f5".</summary>
    internal static bool IsCountryFlag(string codepoints) =>
        codepoints.Split('-') is [var first, var second]
        && IsRegionalIndicator(first) && IsRegionalIndicator(second);

    private static bool IsRegionalIndicator(string codepoint) =>
        int.TryParse(codepoint, System.Globalization.NumberStyles.HexNumber, null, out int c) && c is >= 0x1F1E6 and <= 0x1F1FF;

    /// <summary>The emoji without skin-tone modifiers (U+1F3FB..U+1F3FF): "1f44b-1f3fd" → "1f44b".</summary>
    internal static string EmojiGroup(string codepoints) =>
        string.Join('-', codepoints.Split('-').Where(c => c is not ("1f3fb" or "1f3fc" or "1f3fd" or "1f3fe" or "1f3ff")));

    private static DatasetCounts Make(PrepOptions options, string title, IReadOnlyList<SourceImage> a, IReadOnlyList<SourceImage> b,
        TextWriter log, CancellationToken ct, (string A, string B) what, string[] sources, string notes)
    {
        PrepareOutput(options);
        var watch = Stopwatch.StartNew();
        var units = DatasetSplit.Plan(a, b, options.TestFraction, options.Seed);
        log.WriteLine($"writing {units.Sum(u => u.Images.Count)} images to {options.Output}");
        var counts = DatasetWriter.Write(options.Output, units, options.Size, options.Seed, log, ct);
        AtomicFile.WriteAllBytes(Path.Combine(options.Output, "DATASET.md"),
            Encoding.UTF8.GetBytes(Card(options, title, counts, what, sources, notes)));
        log.WriteLine($"done in {watch.Elapsed.TotalSeconds:F1} s: trainA {counts.TrainA}, trainB {counts.TrainB}, " +
                      $"testA {counts.TestA}, testB {counts.TestB}" +
                      (counts.Skipped.Count > 0 ? $", {counts.Skipped.Count} unreadable skipped" : ""));
        return counts;
    }

    private static string[] ExistingDatasetParts(string output) =>
        [.. DatasetWriter.Folders.Append("DATASET.md").Where(n => Path.Exists(Path.Combine(output, n)))];

    /// <summary>Refuses, before any download, to mix a new split into an old dataset unless told to replace it.</summary>
    private static void CheckOutput(PrepOptions options)
    {
        var existing = ExistingDatasetParts(options.Output);
        if (existing.Length > 0 && !options.Force)
            throw new DatasetException(
                $"{options.Output}: already holds a dataset ({string.Join(", ", existing)}); use --force to replace it or choose another folder.");
    }

    private static void PrepareOutput(PrepOptions options)
    {
        CheckOutput(options);
        Directory.CreateDirectory(options.Output);
        foreach (var name in ExistingDatasetParts(options.Output))
        {
            string path = Path.Combine(options.Output, name);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
    }

    private static string Card(PrepOptions options, string title, DatasetCounts counts,
        (string A, string B) what, string[] sources, string notes)
    {
        var md = new StringBuilder();
        md.AppendLine($"# {title}").AppendLine();
        if (options.Command.Length > 0)
            md.AppendLine("Made with:").AppendLine().AppendLine("```").AppendLine(options.Command).AppendLine("```").AppendLine();
        md.AppendLine("| folder | images | content |").AppendLine("|---|---:|---|");
        md.AppendLine($"| trainA | {counts.TrainA} | {what.A} |");
        md.AppendLine($"| trainB | {counts.TrainB} | {what.B} |");
        md.AppendLine($"| testA | {counts.TestA} | {what.A} |");
        md.AppendLine($"| testB | {counts.TestB} | {what.B} |").AppendLine();
        md.AppendLine("## Sources and licenses").AppendLine();
        foreach (var s in sources) md.AppendLine($"- {s}");
        md.AppendLine().AppendLine("## Split").AppendLine();
        md.AppendLine(notes).AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Seed {options.Seed}, test fraction {options.TestFraction}, size {(options.Size > 0 ? $"{options.Size}x{options.Size} (shorter side scaled, centre square)" : "as found")}."));
        md.AppendLine(TrainingPreprocessing.CompositedOnWhiteNote);
        if (counts.Skipped.Count > 0)
        {
            md.AppendLine().AppendLine($"Skipped {counts.Skipped.Count} unreadable file(s):").AppendLine();
            foreach (var s in counts.Skipped.Take(50)) md.AppendLine($"- {s}");
        }
        return md.ToString();
    }
}
