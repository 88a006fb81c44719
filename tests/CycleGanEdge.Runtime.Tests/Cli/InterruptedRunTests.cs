using System.Diagnostics;
using CycleGanEdge.Exporter;
using CycleGanEdge.Runtime.Imaging;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Runtime.Tests.Cli;

public class InterruptedRunTests
{
    [Fact]
    public async Task A_killed_run_leaves_only_complete_outputs_and_skip_existing_finishes_it()
    {
        string dir = TestFiles.TempFolder();
        var arch = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 8 };
        string model = TestModels.Save(OnnxExport.ToBytes(Networks.CreateGenerator(arch), arch, new ExportOptions(), new ModelIdentity()), dir);
        const int count = 40;
        Directory.CreateDirectory(Path.Combine(dir, "in"));
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(dir, "in", $"{i:00}.png"), ImageCodec.Encode(TestImages.Random(160, 160, seed: i), ImageFormat.Png, 0));
        string outDir = Path.Combine(dir, "out");

        // Run the real executable and kill it (SIGKILL: no chance to clean up) once a few outputs exist.
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-run.dll"), "translate", "-m", model,
            Path.Combine(dir, "in"), "-o", outDir, "-j", "1:1:1", "--provider", "cpu", "--threads", "1"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using (var process = Process.Start(start)!)
        {
            var clock = Stopwatch.StartNew();
            while (!process.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60)
                   && (!Directory.Exists(outDir) || Directory.GetFiles(outDir, "*.png").Length < 3))
                await Task.Delay(5);
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        var written = Directory.GetFiles(outDir, "*.png");
        Assert.InRange(written.Length, 3, count);
        foreach (string f in written)
            Assert.Equal(160, ImageCodec.Decode(f).Width); // complete: a partial PNG would not decode

        var r = await CliRunner.RunAsync("translate", "-m", model, Path.Combine(dir, "in"), "-o", outDir, "--skip-existing");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"done: {count - written.Length}, skipped: {written.Length}, failed: 0", r.Output);
        Assert.Equal(count, Directory.GetFiles(outDir, "*.png").Length);
    }
}
