using CycleGanEdge.Run.Batch;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime.Tests.Cli;
using CycleGanEdge.Runtime.Tests.Imaging;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>A folder of every awkward input at once, and outputs that try to leave the output folder.</summary>
public class HostileFolderTests
{
    [Fact]
    public async Task Every_bad_file_gets_one_line_with_its_name_and_the_rest_of_the_batch_is_done()
    {
        string dir = TestFiles.TempFolder();
        string inputs = Path.Combine(dir, "in");
        Directory.CreateDirectory(inputs);
        byte[] png = ImageCodec.Encode(TestImages.Random(20, 12), ImageFormat.Png);
        var files = new Dictionary<string, byte[]>
        {
            ["good.png"] = png,
            ["really-a-png.jpg"] = png,
            ["cmyk.jpg"] = HostileImageFiles.CmykJpeg(255, 0, 0, 255),
            ["grey16.png"] = TestFiles.Png(1, 1, 0, 16, [[0x80, 0x00]]),
            ["palette.png"] = TestFiles.Png(2, 1, colorType: 3, bitDepth: 8, rows: [[0, 1]], palette: [10, 20, 30, 200, 100, 50], transparency: [255, 128]),
            ["grey-alpha.png"] = TestFiles.Png(1, 1, 4, 8, [[77, 99]]),
            ["anim.gif"] = TestFiles.TwoFrameGif(),
            ["anim-webp.webp"] = HostileImageFiles.TwoFrameWebp(), // anim.webp would share anim.png with anim.gif
            ["empty.png"] = [],
            ["truncated.png"] = png[..(png.Length / 2)],
            ["notes.jpg"] = "shopping list: eggs"u8.ToArray(),
            ["bomb.png"] = TestFiles.PngBomb(50_000, 50_000),
        };
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(inputs, name), bytes);
        string model = TestModels.Save(TestModels.Negate(new()), dir);
        string outDir = Path.Combine(dir, "out");

        var r = await CliRunner.RunAsync("translate", "-m", model, inputs, "-o", outDir, "--provider", "cpu", "--max-pixels", "1000000");

        Assert.Equal(1, r.ExitCode);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("failed: ", StringComparison.Ordinal));
        Assert.Equal(
        [
            $"failed: {inputs}/bomb.png: 50000x50000 is 2,500,000,000 pixels, above the limit of 1,000,000",
            $"failed: {inputs}/empty.png: empty file",
            $"failed: {inputs}/notes.jpg: not an image or an unsupported format",
            $"failed: {inputs}/truncated.png: truncated image data",
        ], lines);
        Assert.Contains("done: 8, skipped: 0, failed: 4", r.Output);
        Assert.Equal(8, Directory.GetFiles(outDir).Length);
        Assert.Equal(new byte[] { 0, 255, 255, 255 }, ImageCodec.Decode(Path.Combine(outDir, "cmyk.png")).Pixels[..4].Select(b => (byte)(b > 128 ? 255 : 0)));
    }

    [Fact]
    public void Output_names_cannot_leave_the_output_folder()
    {
        string root = Path.Combine(TestFiles.TempFolder(), "out");
        Directory.CreateDirectory(root);
        Assert.False(OutputPath.TryResolve(root, "../escaped.png", out _, out string reason));
        Assert.Equal("output name '../escaped.png' would leave the output folder", reason);
        Assert.False(OutputPath.TryResolve(root, "a/../../escaped.png", out _, out _));
        Assert.False(OutputPath.TryResolve(root, "/etc/cron.d/x.png", out _, out reason));
        Assert.Equal("output name '/etc/cron.d/x.png' is absolute", reason);
        Assert.True(OutputPath.TryResolve(root, "a/../fine.png", out string full, out _));
        Assert.Equal(Path.Combine(root, "fine.png"), full);
    }

    [Fact]
    public async Task Symlinks_in_the_input_or_output_tree_never_lead_writes_outside()
    {
        string dir = TestFiles.TempFolder();
        string inputs = Path.Combine(dir, "in"), outDir = Path.Combine(dir, "out"), elsewhere = Path.Combine(dir, "elsewhere");
        Directory.CreateDirectory(Path.Combine(inputs, "real"));
        Directory.CreateDirectory(elsewhere);
        Directory.CreateDirectory(outDir);
        byte[] png = ImageCodec.Encode(TestImages.Random(8, 8), ImageFormat.Png);
        File.WriteAllBytes(Path.Combine(inputs, "real", "a.png"), png);
        File.WriteAllBytes(Path.Combine(elsewhere, "b.png"), png);
        // Input tree: a link to a folder outside it. Output tree: a file link pointing at a file outside.
        Directory.CreateSymbolicLink(Path.Combine(inputs, "linked"), elsewhere);
        string victim = Path.Combine(dir, "victim.txt");
        File.WriteAllText(victim, "must stay");
        Directory.CreateDirectory(Path.Combine(outDir, "real"));
        File.CreateSymbolicLink(Path.Combine(outDir, "real", "a.png"), victim);

        string model = TestModels.Save(TestModels.Negate(new()), dir);
        var r = await CliRunner.RunAsync("translate", "-m", model, inputs, "-o", outDir, "-r", "--provider", "cpu");

        Assert.Equal("must stay", File.ReadAllText(victim));
        Assert.Contains($"output path {Path.Combine(outDir, "real", "a.png")} is a symbolic link; refusing to write through it", r.Error);
        Assert.Equal(["b.png"], Directory.GetFiles(elsewhere).Select(Path.GetFileName)); // nothing written into the linked input folder
        var written = Directory.GetFiles(outDir, "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).LinkTarget is null);
        Assert.All(written, f => Assert.StartsWith(outDir + "/", Path.GetFullPath(f)));
    }
}
