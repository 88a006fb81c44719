using System.Diagnostics;
using CycleGanEdge.Runtime.Segments;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>
/// --tile-norm exact (issue 28): the graph cut at its instance norms, run segment by segment and tile by tile with exact
/// statistics. Real exported resnet and unet generators are compared in CycleGanEdge.Exporter.Tests/InRuntime/ExportedSegmentTests.
/// </summary>
public class SegmentTests
{
    private static readonly TranslatorOptions Cpu = new() { Provider = "cpu", Threads = 1, Tile = 0 };

    [Fact]
    public void Each_instance_norm_is_a_cut_and_halos_follow_the_convolutions()
    {
        var plan = SegmentPlan.Build(TestModels.ConvStack(depth: 3, width: 8));
        Assert.Equal(3, plan.Cuts.Count);
        Assert.Equal(4, plan.Segments.Count);
        // Segment 0: two 3x3 convs (pad 1) from the image to the first norm's input; then one conv per segment.
        Assert.Equal([2, 1, 1, 1], plan.Segments.Select(s => s.Inputs.Single().Halo));
        Assert.Equal([SegmentPlan.ImageTensor, .. plan.Cuts.Take(3).Select(c => c.Tensor)], plan.Segments.Select(s => s.Inputs.Single().Tensor));
        Assert.Equal([[], [0], [1], [2]], plan.Segments.Select(s => s.NormalisedCuts.ToArray()));
    }

    [Fact]
    public void Exact_tiles_match_the_untiled_run_of_a_conv_stack()
    {
        string model = TestModels.Save(TestModels.ConvStack(depth: 4, width: 8));
        var img = TestImages.Random(64, 48);
        using var whole = Translator.Open(model, Cpu);
        var expected = whole.Translate(img).Pixels;
        var notes = new List<string>();
        using var tiled = Translator.Open(model, Cpu with { Tile = 16, TileOverlap = 4, TileNorm = TileNorm.Exact });
        tiled.Note = notes.Add;
        var actual = tiled.Translate(img).Pixels;
        double mean = TestImages.MeanDifference(expected, actual) * 4 / 3;
        int max = TestImages.MaxDifference(expected, actual);
        Console.WriteLine($"ConvStack 64x48, tile 16, exact: mean {mean:0.0000} max {max}; {string.Join(" | ", notes)}");
        Assert.True(max <= 1 && mean <= 0.01, $"exact: mean {mean:0.0000}, max {max}");
        Assert.Equal(1, tiled.LastTilePasses);
        Assert.Contains(notes, n => n.Contains("5 segments") && n.Contains($"in {Path.GetTempPath()}"));

        // The same tiles with each tile's own statistics are visibly off: the comparison can fail.
        using var plain = Translator.Open(model, Cpu with { Tile = 16, TileOverlap = 4, TileNorm = TileNorm.Tile });
        Assert.True(TestImages.MeanDifference(expected, plain.Translate(img).Pixels) * 4 / 3 > 2);
    }

    [Fact]
    public void The_shipped_resnet_runs_exactly_in_tiles_with_scratch_files()
    {
        string model = Path.Combine(RepoRoot(), "models", "emoji-noto2twemoji", "noto2twemoji.onnx");
        var img = TestImages.Shape(96, 72, seed: 3);
        using var whole = Translator.Open(model, Cpu);
        var expected = whole.Translate(img).Pixels;
        string scratch = TestFiles.TempFolder();
        var progress = new List<SegmentProgress>();
        var notes = new List<string>();
        // A budget of 1 MB puts the stored activations in scratch files.
        using var tiled = Translator.Open(model, Cpu with { Tile = 32, TileOverlap = 8, MaxMemory = 1 << 20, ScratchFolder = scratch });
        tiled.Note = notes.Add;
        tiled.SegmentProgress = new InlineProgress(progress.Add);
        var actual = tiled.Translate(img).Pixels;
        double mean = TestImages.MeanDifference(expected, actual) * 4 / 3;
        int max = TestImages.MaxDifference(expected, actual);
        Console.WriteLine($"noto2twemoji 96x72, tile 32, exact: mean {mean:0.0000} max {max}; {string.Join(" | ", notes)}");
        Assert.True(mean <= 0.05 && max <= 2, $"exact: mean {mean:0.0000}, max {max}");
        Assert.Contains(notes, n => n.Contains($"in {scratch}"));
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
        // resnet_6blocks: 1 + 2 + 12 + 2 instance norms, so 18 segments; the full-resolution ones run in several tiles.
        Assert.Equal(18, progress[^1].Segments);
        Assert.Equal(progress.Count, progress[^1].TilesTotal);
        Assert.True(progress[0].TilesInSegment > 1, $"segment 1 ran in {progress[0].TilesInSegment} tile(s)");

        // A residual block's running sum is stored once by the segment that adds it, not re-added from every earlier cut:
        // no segment reads more than two stored tensors.
        var plan = SegmentPlan.Build(File.ReadAllBytes(model));
        Assert.All(plan.Segments, s => Assert.InRange(s.Inputs.Count, 1, 2));

        // fp16 scratch: half the bytes, still within the exact bound.
        notes.Clear();
        using var half = Translator.Open(model, Cpu with { Tile = 32, TileOverlap = 8, MaxMemory = 1 << 20, ScratchFolder = scratch, ScratchHalf = true });
        half.Note = notes.Add;
        // Compared as drawn on white: the default --alpha model un-composites near-white colours, which turns a level's
        // difference there into many (in fp32 and fp16 alike); fp16 rounding just hits such pixels more often.
        var drawn = TestImages.OnWhite(whole.Translate(img)).Pixels;
        var fromHalf = TestImages.OnWhite(half.Translate(img)).Pixels;
        double halfMean = TestImages.MeanDifference(drawn, fromHalf) * 4 / 3;
        int halfMax = TestImages.MaxDifference(drawn, fromHalf);
        Console.WriteLine($"noto2twemoji 96x72, tile 32, exact, fp16 scratch: mean {halfMean:0.0000} max {halfMax}");
        Assert.True(halfMean <= 0.05 && halfMax <= 2, $"exact with fp16 scratch: mean {halfMean:0.0000}, max {halfMax}");
        Assert.Contains(notes, n => n.Contains("(fp16)"));
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
    }

    [Theory]
    [InlineData(3, 700, 1000)] // many rows per mapped window, a region across windows
    [InlineData(1100, 3, 1000)] // rows wider than a window: one row each
    public void Scratch_files_store_what_memory_stores(int channels, int height, int width)
    {
        using var memory = new ScratchStore(null);
        using var files = new ScratchStore(TestFiles.TempFolder());
        var inMemory = memory.Allocate(channels, height, width);
        var inFile = files.Allocate(channels, height, width);
        var random = new Random(channels);
        // The whole tensor, then an overlapping tile's valid part, then a read of a region across both.
        foreach (var (y0, x0, h, w) in new[] { (0, 0, height, width), (height / 3, width / 4, height - height / 3, width - width / 4) })
        {
            int tileH = h + 2, tileW = w + 3;
            var tile = new float[channels * tileH * tileW];
            for (int i = 0; i < tile.Length; i++) tile[i] = random.NextSingle();
            inMemory.Write(tile, tileH, tileW, 1, 2, y0, x0, h, w);
            inFile.Write(tile, tileH, tileW, 1, 2, y0, x0, h, w);
        }
        int rh = height - 1, rw = width - 5;
        var fromMemory = new float[channels * rh * rw];
        var fromFile = new float[channels * rh * rw];
        inMemory.Read(fromMemory, 1, 5, rh, rw);
        inFile.Read(fromFile, 1, 5, rh, rw);
        Assert.Equal(fromMemory, fromFile);
    }

    [Fact]
    public void Fp16_scratch_gives_back_each_value_within_half_precision_of_its_channel_spread()
    {
        using var files = new ScratchStore(TestFiles.TempFolder(), half: true);
        const int channels = 5, height = 40, width = 300;
        var tensor = files.Allocate(channels, height, width);
        Assert.Equal(2L * channels * height * width, tensor.Bytes);
        var random = new Random(7);
        var tile = new float[channels * height * width];
        for (int i = 0; i < tile.Length; i++) tile[i] = (random.NextSingle() - 0.5f) * MathF.Pow(2, random.Next(-6, 8));
        tensor.Write(tile, height, width, 0, 0, 0, 0, height, width);
        var back = new float[tile.Length];
        tensor.Read(back, 0, 0, height, width);
        // Each channel is stored about the mean of the first region written, so the error is fp16's rounding of the distance to it.
        for (int c = 0; c < channels; c++)
        {
            var plane = tile.AsSpan(c * height * width, height * width);
            float centre = 0;
            foreach (float v in plane) centre += v;
            centre /= plane.Length;
            for (int i = 0; i < plane.Length; i++)
            {
                float allowed = MathF.Abs(plane[i] - centre) / 1024 + 1e-6f + MathF.Abs(centre) * 1e-6f;
                Assert.True(MathF.Abs(back[c * height * width + i] - plane[i]) <= allowed, $"channel {c}, value {i}: {plane[i]} came back as {back[c * height * width + i]}");
            }
        }
    }

    [Fact]
    public void Scratch_file_pages_do_not_stay_in_the_process_memory()
    {
        if (!OperatingSystem.IsLinux()) return; // RssFile is Linux's
        using var files = new ScratchStore(TestFiles.TempFolder());
        const int channels = 32, height = 1024, width = 1024; // 128 MB
        var tensor = files.Allocate(channels, height, width);
        var band = new float[channels * 64 * width];
        Array.Fill(band, 1.5f);
        long before = ResidentFileKb();
        for (int y = 0; y < height; y += 64) tensor.Write(band, 64, width, 0, 0, y, 0, 64, width);
        var back = new float[band.Length];
        for (int y = 0; y < height; y += 64) tensor.Read(back, y, 0, 64, width);
        long grown = ResidentFileKb() - before;
        Assert.All(back, v => Assert.Equal(1.5f, v));
        // Mapped one window at a time, the 128 MB written and read back leave (nearly) nothing mapped.
        Assert.True(grown < 16 << 10, $"file pages resident grew by {grown >> 10} MB after storing 128 MB");
    }

    private static long ResidentFileKb() =>
        long.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("RssFile:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    [Fact]
    public void A_model_without_instance_norm_falls_back_with_a_note()
    {
        string model = TestModels.Save(TestModels.SmallConvNet("none"));
        var notes = new List<string>();
        using var tiled = Translator.Open(model, Cpu with { Tile = 32, TileOverlap = 8, TileNorm = TileNorm.Exact });
        tiled.Note = notes.Add;
        tiled.Translate(TestImages.Random(80, 40));
        Assert.Contains(notes, n => n.Contains("cannot run segment by segment (it has no instance norm to cut at)"));
        Assert.Throws<SegmentationUnsupportedException>(() => SegmentPlan.Build(TestModels.Negate(new TestModels.Spec { Io = CycleGanEdge.Core.ModelContract.IoUint8Nhwc })));
    }

    [Fact]
    public void A_full_scratch_disk_is_a_clear_error_and_leaves_no_files()
    {
        string folder = TestFiles.TempFolder();
        if (!Mount(folder))
        {
            Console.WriteLine("skipped: cannot mount a 1 MB tmpfs here (needs root)");
            return;
        }
        try
        {
            // 16 channels x 256 x 256 x 4 bytes = 4 MB at the first cut: more than the 1 MB tmpfs holds.
            string model = TestModels.Save(TestModels.ConvStack(depth: 2, width: 16));
            using var tiled = Translator.Open(model, Cpu with { Tile = 64, TileOverlap = 8, MaxMemory = 1, ScratchFolder = folder });
            var e = Assert.Throws<ScratchFullException>(() => tiled.Translate(TestImages.Random(256, 256)));
            Assert.Contains($"scratch folder {folder}", e.Message);
            Assert.Empty(Directory.GetFileSystemEntries(folder));
        }
        finally
        {
            Run("umount", folder);
        }
    }

    internal static bool Mount(string folder) => OperatingSystem.IsLinux() && Environment.UserName == "root" && Run("mount", $"-t tmpfs -o size=1m tmpfs {folder}");

    internal static bool Run(string command, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(command, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private sealed class InlineProgress(Action<SegmentProgress> report) : IProgress<SegmentProgress>
    {
        public void Report(SegmentProgress value) => report(value);
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
