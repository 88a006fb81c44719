using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>Translate onto a full or read-only disk (export: CycleGanEdge.Exporter.Tests/Reliability): one clear line per file, nothing partial left behind.</summary>
public class DiskFullTests
{
    private static (string Dir, string Model, string Inputs) Setup(int images)
    {
        string dir = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.Negate(new()), dir);
        string inputs = Path.Combine(dir, "in");
        Directory.CreateDirectory(inputs);
        for (int i = 0; i < images; i++)
            File.WriteAllBytes(Path.Combine(inputs, $"{i:00}.png"), ImageCodec.Encode(TestImages.Random(96, 96, seed: i), ImageFormat.Png));
        return (dir, model, inputs);
    }

    private static void AssertNoTempFiles(string folder) =>
        Assert.DoesNotContain(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories), f => Path.GetFileName(f).StartsWith('.') || f.EndsWith(".tmp", StringComparison.Ordinal));

    [MountSandboxFact]
    public void Translate_onto_a_full_disk_keeps_complete_outputs_and_names_each_failure()
    {
        var (dir, model, inputs) = Setup(images: 16);
        string outDir = Path.Combine(dir, "out"), snapshot = Path.Combine(dir, "snapshot");
        var (exit, output, error) = MountSandbox.Run(outDir, sizeKb: 160, readOnly: false, seed: null, snapshot,
            MountSandbox.Dotnet("cyclegan-run.dll", "translate", "-m", model, inputs, "-o", outDir, "--provider", "cpu", "-j", "1:1:1"));

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        var written = Directory.GetFiles(snapshot, "*.png");
        Assert.InRange(written.Length, 1, 15);
        foreach (string f in written)
            Assert.Equal(96, ImageCodec.Decode(f).Width); // complete, never a torn PNG
        AssertNoTempFiles(snapshot);
        var failures = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("failed: ", StringComparison.Ordinal)).ToList();
        Assert.Equal(16 - written.Length, failures.Count);
        Assert.All(failures, l => Assert.Matches(@"^failed: .*/in/\d\d\.png: .*/out/\d\d\.png: cannot write \(disk full\)$", l));
        Assert.Contains($"done: {written.Length}, skipped: 0, failed: {failures.Count}", output);
        Assert.DoesNotContain("   at ", error);
    }

    [MountSandboxFact]
    public void Translate_into_a_read_only_folder_fails_each_image_and_changes_nothing()
    {
        var (dir, model, inputs) = Setup(images: 3);
        string seed = Path.Combine(dir, "seed"), outDir = Path.Combine(dir, "out"), snapshot = Path.Combine(dir, "snapshot");
        Directory.CreateDirectory(seed);
        File.WriteAllBytes(Path.Combine(seed, "00.png"), "an older result"u8.ToArray());
        var (exit, output, error) = MountSandbox.Run(outDir, sizeKb: 1024, readOnly: true, seed, snapshot,
            MountSandbox.Dotnet("cyclegan-run.dll", "translate", "-m", model, inputs, "-o", outDir, "--provider", "cpu"));

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
        Assert.Equal(3, error.Split('\n').Count(l => l.EndsWith(": cannot write (read-only file system)", StringComparison.Ordinal)));
        Assert.Equal(["00.png"], Directory.GetFiles(snapshot).Select(Path.GetFileName));
        Assert.Equal("an older result", File.ReadAllText(Path.Combine(snapshot, "00.png")));
    }

    [Fact]
    public async Task A_file_size_limit_fails_the_large_outputs_with_file_too_large_and_keeps_the_rest()
    {
        // RLIMIT_FSIZE (ulimit -f, in KiB) makes writes past the limit fail with EFBIG: no namespace needed.
        var (dir, model, inputs) = Setup(images: 4);
        File.WriteAllBytes(Path.Combine(inputs, "small.png"), ImageCodec.Encode(TestImages.Random(8, 8), ImageFormat.Png));
        string outDir = Path.Combine(dir, "out");
        string command = string.Join(' ', MountSandbox.Dotnet("cyclegan-run.dll", "translate", "-m", model, inputs, "-o", outDir, "--provider", "cpu").Select(a => $"'{a}'"));
        var start = new System.Diagnostics.ProcessStartInfo("bash", ["-c", $"trap '' XFSZ; ulimit -f 8; exec {command}"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0"; // W^X maps code through a memfd file, which the limit would stop
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 1, error);
        Assert.True(4 == error.Split('\n').Count(l => l.EndsWith(": cannot write (file too large for this file system or for the process's file size limit)", StringComparison.Ordinal)), error);
        Assert.Equal(["small.png"], Directory.GetFiles(outDir).Select(Path.GetFileName)); // no partial or temp files
        Assert.Equal(8, ImageCodec.Decode(Path.Combine(outDir, "small.png")).Width);
        Assert.Contains("done: 1, skipped: 0, failed: 4", await stdout);
    }
}
