using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.Formats.Tar;
using System.IO.Compression;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Data.Prep;
using CycleGanEdge.Trainer.Commands;

namespace CycleGanEdge.Torch.Tests.Data;

public sealed class DataPrepTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static SourceImage[] Sources(IEnumerable<string> keys, string domain, Func<string, string>? group = null) =>
        keys.Select(k => new SourceImage(k, group?.Invoke(k) ?? k, $"/{domain}/{k}.png")).ToArray();

    private static Dictionary<string, string[]> ByFolder(IReadOnlyList<OutputUnit> plan) =>
        DatasetWriter.Folders.ToDictionary(f => f, f => plan.SelectMany(u => u.Images).Where(i => i.Folder == f).Select(i => i.Name).Order().ToArray());

    [Fact]
    public void Split_is_disjoint_paired_in_test_and_seeded()
    {
        var keys = Enumerable.Range(0, 40).Select(i => $"k{i:00}").ToArray();
        var plan = DatasetSplit.Plan(Sources(keys, "A"), Sources(keys, "B"), 0.1, seed: 0);
        var f = ByFolder(plan);
        Assert.Equal(4, f["testA"].Length);
        Assert.Equal(f["testA"], f["testB"]);
        Assert.Empty(f["trainA"].Intersect(f["trainB"]));
        Assert.Empty(f["trainA"].Concat(f["trainB"]).Intersect(f["testA"]));
        Assert.Equal(keys.Select(k => k + ".png"), f["trainA"].Concat(f["trainB"]).Concat(f["testA"]).Order());
        Assert.Equal(18, f["trainA"].Length);
        Assert.Equal(18, f["trainB"].Length);
        // Sources keep their domain: trainA from A, trainB from B.
        Assert.All(plan.SelectMany(u => u.Images), i => Assert.StartsWith("/" + i.Folder[^1], i.Source));

        var again = ByFolder(DatasetSplit.Plan(Sources(keys, "A"), Sources(keys, "B"), 0.1, seed: 0));
        var other = ByFolder(DatasetSplit.Plan(Sources(keys, "A"), Sources(keys, "B"), 0.1, seed: 1));
        Assert.Equal(f["trainA"], again["trainA"]);
        Assert.Equal(f["testA"], again["testA"]);
        Assert.NotEqual(f["trainA"], other["trainA"]);
    }

    [Theory]
    [InlineData("1f1ef-1f1f5", true)]                              // Japan
    [InlineData("1f1e6-1f1ff", true)]                              // first and last regional indicators
    [InlineData("1f1e6", false)]                                   // a lone regional indicator is a letter
    [InlineData("1f3f4-e0067_e0062_e0065_e006e_e0067", false)]     // England: a tag sequence, drawn in 3D
    [InlineData("1f3c1", false)]                                   // chequered flag, drawn in 3D
    [InlineData("1f1e5-1f1f5", false)]                             // U+1F1E5 is just below the range
    [InlineData("1f44b-1f3fd", false)]
    public void Country_flags_are_pairs_of_regional_indicators(string codepoints, bool flag) =>
        Assert.Equal(flag, DataKinds.IsCountryFlag(codepoints));

    [Fact]
    public void Skin_tone_variants_stay_in_the_same_folder_as_their_base_emoji()
    {
        string[] tones = ["", "-1f3fb", "-1f3fd", "-1f3ff"];
        var keys = Enumerable.Range(0, 30).SelectMany(i => tones.Select(t => $"1f{400 + i:x3}{t}")).ToArray();
        Assert.Equal("1f469-200d-1f9b3", DataKinds.EmojiGroup("1f469-1f3fd-200d-1f9b3"));
        var plan = DatasetSplit.Plan(Sources(keys, "A", DataKinds.EmojiGroup), Sources(keys, "B", DataKinds.EmojiGroup), 0.2, seed: 5);
        var folderOf = plan.SelectMany(u => u.Images).Where(i => i.Folder.StartsWith("train")).ToLookup(i => DataKinds.EmojiGroup(i.Name[..^4]), i => i.Folder);
        Assert.All(folderOf, g => Assert.Single(g.Distinct()));
        Assert.Equal(6 * tones.Length, ByFolder(plan)["testA"].Length);
    }

    [Fact]
    public void Names_in_one_folder_only_are_split_within_that_domain()
    {
        var plan = DatasetSplit.Plan(Sources(Enumerable.Range(0, 20).Select(i => $"a{i}"), "A"),
                                     Sources(Enumerable.Range(0, 10).Select(i => $"b{i}"), "B"), 0.2, seed: 0);
        var f = ByFolder(plan);
        Assert.Equal((16, 4, 8, 2), (f["trainA"].Length, f["testA"].Length, f["trainB"].Length, f["testB"].Length));
        Assert.All(f["trainA"].Concat(f["testA"]), n => Assert.StartsWith("a", n));
    }

    private string Pool(int count, int size = 16)
    {
        string folder = _temp.Sub("pool");
        for (int i = 0; i < count; i++)
            TestImages.Write(Path.Combine(folder, $"img{i:00}.png"), TestImages.Pattern(size, size, i * 7 + 3));
        return folder;
    }

    private static RgbaImage Read(string root, string folder, string name) => ImageCodec.Decode(Path.Combine(root, folder, name));

    private static string[] Names(string root, string folder) =>
        Directory.GetFiles(Path.Combine(root, folder)).Select(p => Path.GetFileName(p)!).Order().ToArray();

    [Fact]
    public void Colorize_keeps_the_true_colour_of_each_gray_test_image()
    {
        string pool = Pool(20);
        string output = _temp.Sub("colorize");
        var counts = DataKinds.Colorize(new PrepOptions { Output = output, Size = 16, TestFraction = 0.2 }, pool, TextWriter.Null);
        Assert.Equal((8, 8, 4, 4), (counts.TrainA, counts.TrainB, counts.TestA, counts.TestB));
        Assert.Empty(Names(output, "trainA").Intersect(Names(output, "trainB")));
        Assert.Equal(Names(output, "testA"), Names(output, "testB"));
        foreach (var name in Names(output, "testA"))
        {
            var gray = Read(output, "testA", name).Pixels;
            var colour = Read(output, "testB", name).Pixels;
            Assert.Equal(ImageCodec.Decode(Path.Combine(pool, name)).Pixels, colour);
            for (int i = 0; i < gray.Length; i += 4)
            {
                int luma = (colour[i] * 19595 + colour[i + 1] * 38470 + colour[i + 2] * 7471 + 0x8000) >> 16;
                Assert.Equal((luma, luma, luma), (gray[i], gray[i + 1], gray[i + 2]));
            }
        }
        Assert.All(Names(output, "trainA"), n => Assert.True(IsGray(Read(output, "trainA", n))));
        Assert.All(Names(output, "trainB"), n => Assert.False(IsGray(Read(output, "trainB", n))));
        Assert.Contains("| testA | 4 |", File.ReadAllText(Path.Combine(output, "DATASET.md")));
    }

    /// <summary>The runtime composites RGBA input exactly as the data command composited the training images.</summary>
    [Fact]
    public void The_runtime_composites_exactly_as_the_data_command()
    {
        var rng = new Random(5);
        var pixels = new byte[64 * 64 * 4];
        rng.NextBytes(pixels);
        var image = new RgbaImage(64, 64, pixels, hasAlpha: true);
        var trainer = ByteImage.FromRgba(image, 3, compositeOnWhite: true).Data;
        var runtime = ImagePreprocessing.CompositeOnWhite("resize_and_crop", 286).Composite(image).Pixels;
        for (int p = 0; p < 64 * 64; p++)
            for (int c = 0; c < 3; c++)
                Assert.Equal(trainer[p * 3 + c], runtime[p * 4 + c]);
    }

    private static bool IsGray(RgbaImage img)
    {
        for (int i = 0; i < img.Pixels.Length; i += 4)
            if (img.Pixels[i] != img.Pixels[i + 1] || img.Pixels[i] != img.Pixels[i + 2]) return false;
        return true;
    }

    [Fact]
    public void Masked_test_images_differ_from_the_truth_only_inside_the_seeded_rectangle()
    {
        string pool = Pool(10, size: 24);
        string output = _temp.Sub("masked");
        DataKinds.Masked(new PrepOptions { Output = output, Size = 24, TestFraction = 0.3, Seed = 4 }, pool, TextWriter.Null);
        Assert.Equal(3, Names(output, "testA").Length);
        foreach (var name in Names(output, "testA"))
        {
            var masked = Read(output, "testA", name).Pixels;
            var truth = Read(output, "testB", name).Pixels;
            Assert.Equal(ImageCodec.Decode(Path.Combine(pool, name)).Pixels, truth);
            var (rx, ry, rw, rh) = DatasetWriter.MaskRectangle(24, 24, name, seed: 4);
            Assert.InRange(rw, 6, 12);
            for (int y = 0; y < 24; y++)
                for (int x = 0; x < 24; x++)
                {
                    int i = 4 * (y * 24 + x);
                    bool inside = x >= rx && x < rx + rw && y >= ry && y < ry + rh;
                    Assert.Equal(inside ? (byte)128 : truth[i], masked[i]);
                    Assert.Equal(inside ? (byte)128 : truth[i + 2], masked[i + 2]);
                }
        }
        Assert.NotEqual(DatasetWriter.MaskRectangle(24, 24, "img00.png", 4), DatasetWriter.MaskRectangle(24, 24, "img00.png", 5));
    }

    [Fact]
    public void Emoji_from_a_filled_cache_needs_no_npm_and_composites_onto_white()
    {
        // A cache laid out like the two npm packages, with transparent generated "emoji".
        string cache = _temp.Sub("cache");
        string[] names = [.. Enumerable.Range(0, 12).Select(i => $"1f6{i:x2}"), "1f600-1f3fb", "1f600-1f3ff"];
        foreach (var (package, set) in new[] { (DataKinds.GooglePackage, "google"), (DataKinds.TwitterPackage, "twitter") })
        {
            string images = Path.Combine(NpmPackage.CachedFolder(cache, package, DataKinds.EmojiVersion), "img", set, "64");
            foreach (var n in names)
                TestImages.Write(Path.Combine(images, n + ".png"), TestImages.Solid(8, 8, 10, 20, 30, a: 0));
            TestImages.Write(Path.Combine(images, $"only-{set}.png"), TestImages.Solid(8, 8, 1, 2, 3));
        }
        string output = _temp.Sub("emoji");
        var log = new StringWriter();
        var counts = DataKinds.Emoji(new PrepOptions { Output = output, Cache = cache, Size = 8, TestFraction = 0.25 }, log);
        Assert.Contains("cached", log.ToString());
        Assert.Equal(names.Length, counts.TrainA + counts.TrainB + counts.TestA);
        Assert.DoesNotContain(DatasetWriter.Folders.SelectMany(f => Names(output, f)), n => n.StartsWith("only-"));
        Assert.All(Read(output, "testA", Names(output, "testA")[0]).Pixels, v => Assert.Equal(255, v));
        string card = File.ReadAllText(Path.Combine(output, "DATASET.md"));
        Assert.Contains("Apache License 2.0", card);
        Assert.Contains("CC BY 4.0", card);
    }

    [Fact]
    public void Unreadable_source_is_named_once_skipped_and_listed()
    {
        string a = _temp.Sub("horses"), b = _temp.Sub("zebras");
        TestImages.WriteMany(a, 6, 12, 12);
        TestImages.WriteMany(b, 5, 12, 12, seedOffset: 50);
        File.WriteAllText(Path.Combine(b, "broken.jpg"), "not a jpeg");
        string output = _temp.Sub("out");
        var log = new StringWriter();
        // Names 000..004 exist in both folders (pairs); 005 only in A; broken.jpg only in B.
        var counts = DataKinds.FromFolders(new PrepOptions { Output = output, Size = 0, TestFraction = 0.2 }, a, b, log);
        Assert.Single(log.ToString().Split('\n'), l => l.Contains("broken.jpg"));
        Assert.Equal([Path.Combine(b, "broken.jpg")], counts.Skipped);
        // 5 pairs: 1 test pair (2 files) + 4 training images (one version each); 005 goes to domain A.
        Assert.Equal((1, 1), (counts.TestA - (Names(output, "testA").Contains("005.png") ? 1 : 0), counts.TestB));
        Assert.Equal(7, counts.TrainA + counts.TrainB + counts.TestA + counts.TestB);
        Assert.Contains("broken.jpg", File.ReadAllText(Path.Combine(output, "DATASET.md")));
        Assert.Equal(12, Read(output, counts.TrainA > 0 ? "trainA" : "testA", Names(output, counts.TrainA > 0 ? "trainA" : "testA")[0]).Width);
    }

    [Fact]
    public void Extraction_refuses_entries_that_leave_the_folder()
    {
        string archive = _temp.Sub("evil.tgz");
        using (var file = File.Create(archive))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var name in new[] { "package/ok.txt", "package/../../evil.txt" })
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream([1, 2, 3]) };
                tar.WriteEntry(entry);
            }
        }
        string destination = _temp.Sub("x", "y");
        var e = Assert.Throws<DatasetException>(() => SafeTarGz.Extract(archive, destination, _ => true));
        Assert.Contains("package/../../evil.txt", e.Message);
        Assert.False(File.Exists(_temp.Sub("evil.txt")));
        Assert.True(File.Exists(Path.Combine(destination, "package", "ok.txt")));
    }

    [Fact]
    public void Extraction_writes_only_chosen_regular_files()
    {
        string archive = _temp.Sub("ok.tgz");
        using (var file = File.Create(archive))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/img/a.png") { DataStream = new MemoryStream([7]) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/README.md") { DataStream = new MemoryStream([8]) });
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "package/img/link.png") { LinkName = "/etc/passwd" });
        }
        string destination = _temp.Sub("d");
        Assert.Equal(1, SafeTarGz.Extract(archive, destination, n => n.StartsWith("package/img/")));
        Assert.Equal([7], File.ReadAllBytes(Path.Combine(destination, "package", "img", "a.png")));
        Assert.False(Path.Exists(Path.Combine(destination, "package", "img", "link.png")));
        Assert.False(File.Exists(Path.Combine(destination, "package", "README.md")));
    }

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var root = new RootCommand { DataCommand.Create() };
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Command_makes_a_dataset_the_loader_reads_and_refuses_to_overwrite_it()
    {
        string from = _temp.Sub("domains");
        TestImages.WriteMany(Path.Combine(from, "A"), 6, 20, 10);
        TestImages.WriteMany(Path.Combine(from, "B"), 4, 20, 10, seedOffset: 9);
        string output = _temp.Sub("set");
        var first = Cli("data", "from", "--from", from, "-o", output, "--size", "16", "--seed", "3");
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("done in", first.Out);
        Assert.Contains("cyclegan-train data from --from", File.ReadAllText(Path.Combine(output, "DATASET.md")));
        // Training on it records that its images were composited onto white (the exporter writes it into the model).
        var recorded = TrainingPreprocessing.Of(output, "crop", 16);
        Assert.Equal(("composite", "#ffffff", "crop", 16), (recorded.Alpha, recorded.Background, recorded.TrainPreprocess, recorded.LoadSize));
        Assert.Equal("drop", TrainingPreprocessing.Of(from, "crop", 16).Alpha);

        using var data = new UnalignedDataset(new DataOptions { DataRoot = output, LoadSize = 16, CropSize = 16 }, TextWriter.Null);
        var batch = data.Epoch(0).First();
        Assert.Equal((16, 16), (batch.Height, batch.Width));

        var again = Cli("data", "from", "--from", from, "-o", output);
        Assert.Equal(ExitCodes.Failed, again.Code);
        Assert.Contains("--force", again.Err);
        Assert.Equal(0, Cli("data", "from", "--from", from, "-o", output, "--force").Code);
    }

    [Fact]
    public void Command_rejects_bad_options_and_missing_folders_clearly()
    {
        var fraction = Cli("data", "colorize", "-o", _temp.Sub("o"), "--test-fraction", "1.5");
        Assert.NotEqual(0, fraction.Code);
        Assert.Contains("--test-fraction", fraction.Err);
        var neither = Cli("data", "from", "-o", _temp.Sub("o"), "--a", _temp.Path);
        Assert.NotEqual(0, neither.Code);
        Assert.Contains("--a and --b", neither.Err);
        var missing = Cli("data", "from", "-o", _temp.Sub("o"), "--a", _temp.Sub("nope"), "--b", _temp.Sub("nope2"));
        Assert.Equal(ExitCodes.Failed, missing.Code);
        Assert.Contains("nope: folder not found", missing.Err);
        Assert.DoesNotContain("   at ", missing.Err); // no stack trace
    }
}
