using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Tests.Cli;

public class TranslateCommandTests
{
    private static readonly string NegateModel = TestModels.Save(TestModels.Negate(new()));

    private static void WriteImage(string path, RgbaImage image, ImageFormat format)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, ImageCodec.Encode(image, format, 100));
    }

    /// <summary>A folder with mixed formats, sizes and subfolders, one corrupt PNG and one text file.</summary>
    private static string MixedFolder()
    {
        string dir = TestFiles.TempFolder();
        WriteImage(Path.Combine(dir, "in", "a.png"), TestImages.Random(33, 17, alpha: true, seed: 1), ImageFormat.Png);
        WriteImage(Path.Combine(dir, "in", "b.jpg"), TestImages.Random(40, 40, seed: 2), ImageFormat.Jpeg);
        WriteImage(Path.Combine(dir, "in", "sub", "c.webp"), TestImages.Random(9, 31, seed: 3), ImageFormat.Webp);
        WriteImage(Path.Combine(dir, "in", "sub", "deeper", "d.png"), TestImages.Random(64, 48, seed: 4), ImageFormat.Png);
        File.WriteAllBytes(Path.Combine(dir, "in", "sub", "broken.png"), File.ReadAllBytes(Path.Combine(dir, "in", "a.png"))[..100]);
        File.WriteAllText(Path.Combine(dir, "in", "notes.txt"), "not an image");
        return dir;
    }

    [Fact]
    public async Task A_wrong_choice_is_one_line_that_lists_the_choices()
    {
        // The parser's own message puts each choice on a line of its own below "Must be one of:".
        string model = TestModels.Save(TestModels.Negate(new()));
        var r = await CliRunner.RunAsync("translate", "-m", model, "x.png", "-o", "out", "--tile-norm", "imag");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --tile-norm: Argument 'imag' not recognized. Must be one of: 'exact' 'image' 'thumbnail' 'tile'", r.Error.Trim());
    }

    [Fact]
    public async Task Folder_run_mirrors_the_tree_and_names_each_bad_file_once()
    {
        string dir = MixedFolder();
        string outDir = Path.Combine(dir, "out");
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-r", "-o", outDir, "--batch", "2", "-j", "2:1:2");

        Assert.Equal(1, r.ExitCode);
        string[] expected = ["a.png", "b.png", Path.Combine("sub", "c.png"), Path.Combine("sub", "deeper", "d.png")];
        Assert.Equal(expected.Order(), Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f)).Order());
        var failed = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("settings: ", StringComparison.Ordinal));
        Assert.Equal($"failed: {Path.Combine(dir, "in", "sub", "broken.png")}: truncated image data", Assert.Single(failed));
        Assert.Contains("done: 4, skipped: 0, failed: 1", r.Output);
        Assert.Contains("ignored 1 file(s)", r.Output);
        Assert.DoesNotContain("   at ", r.Output + r.Error); // never a stack trace

        // Content: the negating model inverts colour and keeps alpha and size.
        var source = ImageCodec.Decode(Path.Combine(dir, "in", "a.png"));
        var result = ImageCodec.Decode(Path.Combine(outDir, "a.png"));
        Assert.Equal((33, 17, true), (result.Width, result.Height, result.HasAlpha));
        for (int i = 0; i < source.Pixels.Length; i++)
            Assert.Equal(i % 4 == 3 ? source.Pixels[i] : 255 - source.Pixels[i], result.Pixels[i]);
    }

    [Fact]
    public async Task Without_recursive_only_the_top_folder_is_read_and_formats_are_honoured()
    {
        string dir = MixedFolder();
        string outDir = Path.Combine(dir, "out");
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", outDir, "--format", "jpg", "--quality", "80");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(["a.jpg", "b.jpg"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order());
        Assert.Equal(ImageFormat.Jpeg, ImageCodec.FormatFromExtension(Directory.GetFiles(outDir)[0]));
        Assert.Equal(0xFF, File.ReadAllBytes(Path.Combine(outDir, "a.jpg"))[0]); // JPEG SOI
    }

    [Fact]
    public async Task Globs_and_single_files_work_and_outputs_mirror_below_the_pattern_base()
    {
        string dir = MixedFolder();
        string outDir = Path.Combine(dir, "out");
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in", "**", "*.png"), Path.Combine(dir, "in", "b.jpg"), "-o", outDir, "--format", "webp");
        Assert.Equal(1, r.ExitCode); // broken.png matches the pattern
        Assert.Equal(["a.webp", "b.webp", Path.Combine("sub", "deeper", "d.webp")],
            Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(outDir, f)).Order());
        var none = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in", "*.gif"), "-o", outDir);
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("no files match this pattern", none.Error);
    }

    [Fact]
    public async Task Skip_existing_leaves_outputs_that_are_there()
    {
        string dir = MixedFolder();
        string outDir = Path.Combine(dir, "out");
        Directory.CreateDirectory(outDir);
        File.WriteAllBytes(Path.Combine(outDir, "a.png"), [1, 2, 3]); // stands for an earlier run's output
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", outDir, "--skip-existing");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("done: 1, skipped: 1, failed: 0", r.Output);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(Path.Combine(outDir, "a.png")));
        var again = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", outDir, "--skip-existing");
        Assert.Contains("done: 0, skipped: 2, failed: 0", again.Output);
    }

    [Fact]
    public async Task Outputs_never_escape_the_output_folder_through_symlinks()
    {
        string dir = MixedFolder();
        string outDir = Path.Combine(dir, "out");
        string elsewhere = Path.Combine(dir, "elsewhere");
        Directory.CreateDirectory(outDir);
        Directory.CreateDirectory(elsewhere);
        Directory.CreateSymbolicLink(Path.Combine(outDir, "sub"), elsewhere);
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-r", "-o", outDir);
        Assert.Equal(1, r.ExitCode);
        Assert.Empty(Directory.GetFiles(elsewhere, "*", SearchOption.AllDirectories));
        Assert.Contains("is a symbolic link; refusing to write through it", r.Error);
        Assert.True(File.Exists(Path.Combine(outDir, "a.png")));
    }

    [Fact]
    public void Relative_names_that_leave_the_folder_are_refused()
    {
        string root = TestFiles.TempFolder();
        Assert.False(Run.Batch.OutputPath.TryResolve(root, Path.Combine("..", "x.png"), out _, out string reason));
        Assert.Contains("would leave the output folder", reason);
        Assert.False(Run.Batch.OutputPath.TryResolve(root, "/etc/x.png", out _, out reason));
        Assert.Contains("is absolute", reason);
        Assert.True(Run.Batch.OutputPath.TryResolve(root, Path.Combine("a", "..", "b", "x.png"), out string ok, out _));
        Assert.Equal(Path.Combine(root, "b", "x.png"), ok);
    }

    [Fact]
    public async Task Two_inputs_with_one_output_name_do_not_overwrite_each_other()
    {
        string dir = TestFiles.TempFolder();
        WriteImage(Path.Combine(dir, "in", "x.png"), TestImages.Random(8, 8), ImageFormat.Png);
        WriteImage(Path.Combine(dir, "in", "x.jpg"), TestImages.Random(8, 8), ImageFormat.Jpeg);
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "out"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("x.png: its output", r.Error);
    }

    [Theory]
    [InlineData("--tile", "-5")]
    [InlineData("--quality", "0")]
    [InlineData("--format", "tiff")]
    [InlineData("--jobs", "1:0:1")]
    [InlineData("--jobs", "fast")]
    [InlineData("--batch", "0")]
    [InlineData("--no-such-option", "1")]
    [InlineData("--tile", "abc")]      // validators also see values that failed to convert
    [InlineData("--threads", "two")]
    [InlineData("--tile-norm", "median")]
    [InlineData("--max-memory", "0")]
    public async Task Bad_options_are_usage_errors(string option, string value)
    {
        string dir = MixedFolder();
        var r = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "out"), option, value);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error: ", r.Error);
        Assert.DoesNotContain("   at ", r.Error);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));
    }

    [Fact]
    public async Task Missing_model_and_unavailable_provider_are_usage_errors_a_bad_model_fails()
    {
        string dir = MixedFolder();
        string input = Path.Combine(dir, "in");
        var missing = await CliRunner.RunAsync("translate", "-m", Path.Combine(dir, "nope.onnx"), input, "-o", Path.Combine(dir, "out"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("nope.onnx", missing.Error);

        string notModel = Path.Combine(dir, "fake.onnx");
        File.WriteAllText(notModel, "hello");
        var bad = await CliRunner.RunAsync("translate", "-m", notModel, input, "-o", Path.Combine(dir, "out"));
        Assert.Equal(1, bad.ExitCode); // the file exists: the work failed, the command line was right
        Assert.StartsWith($"error: {notModel}: not an ONNX model", bad.Error);

        var cuda = await CliRunner.RunAsync("translate", "-m", NegateModel, input, "-o", Path.Combine(dir, "out"), "--provider", "cuda");
        Assert.Equal(2, cuda.ExitCode);
        Assert.Contains("-p:Accelerator=cuda", cuda.Error);
        Assert.False(Directory.Exists(Path.Combine(dir, "out")));

        var overlap = await CliRunner.RunAsync("translate", "-m", NegateModel, input, "-o", Path.Combine(dir, "out"), "--tile", "64", "--tile-overlap", "32");
        Assert.Equal(2, overlap.ExitCode);
        Assert.Contains("less than half of --tile", overlap.Error);
    }

    [Fact]
    public async Task Tiled_and_batched_runs_give_the_same_files_as_plain_runs()
    {
        string dir = MixedFolder();
        string model = TestModels.Save(TestModels.SmallConvNet("none"), dir);
        var plain = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-r", "-o", Path.Combine(dir, "plain"));
        var tiled = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-r", "-o", Path.Combine(dir, "tiled"), "--tile", "24", "--tile-overlap", "6", "--batch", "3");
        Assert.Equal((1, 1), (plain.ExitCode, tiled.ExitCode));
        foreach (string f in Directory.GetFiles(Path.Combine(dir, "plain"), "*", SearchOption.AllDirectories))
        {
            var a = ImageCodec.Decode(f);
            var b = ImageCodec.Decode(Path.Combine(dir, "tiled", Path.GetRelativePath(Path.Combine(dir, "plain"), f)));
            Assert.True(TestImages.MaxDifference(a.Pixels, b.Pixels) <= 1, f);
        }
    }

    [Fact]
    public async Task A_full_scratch_disk_fails_the_image_in_one_line_and_writes_no_output()
    {
        string dir = TestFiles.TempFolder(), scratch = Path.Combine(dir, "scratch");
        Directory.CreateDirectory(scratch);
        if (!SegmentTests.Mount(scratch))
        {
            Console.WriteLine("skipped: cannot mount a 1 MB tmpfs here (needs root)");
            return;
        }
        try
        {
            // 16 channels x 256 x 256 x 4 bytes = 4 MB at the first cut: more than the 1 MB tmpfs holds.
            string model = TestModels.Save(TestModels.ConvStack(depth: 2, width: 16), dir);
            Directory.CreateDirectory(Path.Combine(dir, "in"));
            WriteImage(Path.Combine(dir, "in", "big.png"), TestImages.Random(256, 256), ImageFormat.Png);
            var r = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "out"),
                "--tile", "64", "--tile-overlap", "8", "--max-memory", "1", "--scratch", scratch);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"failed: {Path.Combine(dir, "in", "big.png")}: scratch folder {scratch}: cannot hold", r.Error);
            Assert.DoesNotContain("   at ", r.Error);
            Assert.False(File.Exists(Path.Combine(dir, "out", "big.png")));
            Assert.Empty(Directory.GetFileSystemEntries(scratch));
        }
        finally
        {
            SegmentTests.Run("umount", scratch);
        }
    }

    [Fact]
    public async Task Auto_tiles_past_the_memory_budget_and_matches_the_whole_image()
    {
        // An instance-norm model: with the default --tile-norm image the tiles use the whole image's statistics.
        string dir = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.SmallConvNet("instance"), dir);
        Directory.CreateDirectory(Path.Combine(dir, "in"));
        WriteImage(Path.Combine(dir, "in", "big.png"), TestImages.Random(300, 200), ImageFormat.Png);
        var whole = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "whole"), "--tile", "0");
        var auto = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "auto"), "--max-memory", "1");
        Assert.Equal((0, 0), (whole.ExitCode, auto.ExitCode));
        var a = ImageCodec.Decode(Path.Combine(dir, "whole", "big.png"));
        var b = ImageCodec.Decode(Path.Combine(dir, "auto", "big.png"));
        Assert.True(TestImages.MaxDifference(a.Pixels, b.Pixels) <= 1);
        // The same run cut into tiles that normalise on their own does differ.
        var plain = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "plain"), "--max-memory", "1", "--tile-norm", "tile");
        Assert.Equal(0, plain.ExitCode);
        Assert.Contains("--tile-norm tile normalises each tile on its own", plain.Error);
        Assert.True(TestImages.MeanDifference(a.Pixels, ImageCodec.Decode(Path.Combine(dir, "plain", "big.png")).Pixels) > 1);
    }

    [Fact]
    public async Task A_model_that_cannot_be_tiled_fails_its_large_images_in_one_line()
    {
        // The same instance-norm model with a weight moved to an external data file: ONNX Runtime loads it, but
        // the tiling rewrite needs a single file. Small images still run whole; the large one fails, named with its reason.
        string dir = TestFiles.TempFolder();
        var model = CycleGanEdge.Core.Onnx.ModelProto.Parser.ParseFrom(TestModels.SmallConvNet("instance"));
        var weight = model.Graph.Initializer.First(t => t.Name == "c1.w");
        File.WriteAllBytes(Path.Combine(dir, "c1.w.bin"), weight.RawData.ToByteArray());
        weight.ExternalData.Add(new CycleGanEdge.Core.Onnx.StringStringEntryProto { Key = "location", Value = "c1.w.bin" });
        weight.DataLocation = CycleGanEdge.Core.Onnx.TensorProto.Types.DataLocation.External;
        weight.RawData = Google.Protobuf.ByteString.Empty;
        string path = Path.Combine(dir, "external.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        Directory.CreateDirectory(Path.Combine(dir, "in"));
        WriteImage(Path.Combine(dir, "in", "big.png"), TestImages.Random(300, 200), ImageFormat.Png);
        WriteImage(Path.Combine(dir, "in", "small.png"), TestImages.Random(20, 20), ImageFormat.Png);
        var r = await CliRunner.RunAsync("translate", "-m", path, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "out"), "--max-memory", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("failed: ", r.Error);
        Assert.Contains("big.png: " + path + ": its weights are in an external data file", r.Error);
        Assert.DoesNotContain("   at ", r.Error);
        Assert.True(File.Exists(Path.Combine(dir, "out", "small.png")));
    }

    [Fact]
    public async Task Info_shows_metadata_signature_and_providers()
    {
        var r = await CliRunner.RunAsync("info", "-m", NegateModel);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("translates: photos -> negatives (AtoB, trained with cyclegan, test_graph", r.Output);
        Assert.Contains("input:      input: float[batch0, 3, height2, width3]", r.Output);
        Assert.Contains("cyclegan.io = float32-nchw", r.Output);
        Assert.Contains("providers:  cpu", r.Output);
        var bad = await CliRunner.RunAsync("info", "-m", TestModels.Save(TestModels.Negate(new() { Metadata = { [ModelContract.IoKey] = null } })));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("metadata key(s) missing: cyclegan.io", bad.Error);
    }

    [Fact]
    public async Task Settings_line_shows_the_automatic_choices_and_given_options_override_them()
    {
        string dir = MixedFolder();
        var auto = await CliRunner.RunAsync("translate", "-m", NegateModel, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "auto"));
        int threads = Math.Max(1, Environment.ProcessorCount - 1);
        // The test graph's architecture has no counted cost, so the rule keeps a core for decode and encode.
        Assert.Contains($"settings: provider cpu, threads {threads} (all cores but one: model cost unknown), batch 1, jobs 1:1:4, graph optimisation all, optimised model not cached", auto.Error);
        Assert.Contains($"tiles above {TranslatorOptions.DefaultMaxMemory >> 20} MB (--max-memory) with exact statistics", auto.Error);

        string model = TestModels.Save(TestModels.Negate(new()), dir);
        var given = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", Path.Combine(dir, "given"),
            "--threads", "3", "--batch", "5", "-j", "2:1:3", "--cache-optimized", "--tile", "512", "--tile-norm", "thumbnail");
        string cached = SessionFactory.OptimizedModelPath(model, "cpu");
        Assert.Contains($"settings: provider cpu, threads 3, batch 5, jobs 2:1:3, graph optimisation all, optimised model cached at {cached}, tiles of 512 px with thumbnail statistics", given.Error);
        Assert.True(File.Exists(cached));
        Assert.Equal(auto.ExitCode, given.ExitCode);
    }
}
