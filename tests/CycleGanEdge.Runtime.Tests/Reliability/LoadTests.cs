using System.Diagnostics;
using System.Globalization;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Runtime.Tests.Video;
using Xunit.Abstractions;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>
/// Memory, not time: thousands of images and a long video through the real cyclegan-run, with the child's
/// resident memory sampled from /proc. Bounds are generous; the numbers are printed for the report.
/// </summary>
[Trait("Category", "Slow")]
public class LoadTests(ITestOutputHelper output)
{
    private const long MiB = 1 << 20;

    /// <summary>Runs cyclegan-run and samples VmRSS every 25 ms; returns the exit code, the samples and VmHWM (peak).</summary>
    private static async Task<(int Exit, string Error, List<long> Rss, long Peak)> RunSampled(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-run.dll"), .. args])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var rss = new List<long>();
        long peak = 0;
        while (!process.HasExited)
        {
            try
            {
                foreach (string line in File.ReadLines($"/proc/{process.Id}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss.Add(Kb(line) * 1024);
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kb(line) * 1024;
                }
            }
            catch (IOException) { /* exited between the check and the read */ }
            await Task.Delay(25);
        }
        await process.WaitForExitAsync();
        await stdout;
        return (process.ExitCode, await stderr, rss, peak);
    }

    private static long Kb(string line) => long.Parse(line.Split(':')[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Three_thousand_images_translate_with_bounded_memory()
    {
        string dir = TestFiles.TempFolder();
        string inputs = Path.Combine(dir, "in");
        Directory.CreateDirectory(inputs);
        const int count = 3000;
        for (int i = 0; i < count; i++)
            File.WriteAllBytes(Path.Combine(inputs, $"{i:0000}.png"), ImageCodec.Encode(TestImages.Random(48, 40, seed: i), ImageFormat.Png));
        string model = TestModels.Save(TestModels.SmallConvNet("instance"), dir);

        var (exit, error, rss, peak) = await RunSampled("translate", "-m", model, inputs, "-o", Path.Combine(dir, "out"), "--provider", "cpu");

        Assert.True(exit == 0, error);
        Assert.Equal(count, Directory.GetFiles(Path.Combine(dir, "out")).Length);
        var (first, last) = Thirds(rss);
        output.WriteLine($"{count} images: peak RSS (VmHWM) {peak / MiB} MiB; mean RSS first third {first / MiB} MiB, last third {last / MiB} MiB; {rss.Count} samples");
        Assert.InRange(peak, 1, 600 * MiB);
        Assert.True(last < first * 1.3 + 30 * MiB, $"RSS grew from {first / MiB} to {last / MiB} MiB");
    }

    [FfmpegFact]
    public async Task A_long_video_translates_without_memory_growth()
    {
        string dir = TestFiles.TempFolder();
        string video = Path.Combine(dir, "long.mp4");
        const int frames = 3000;
        using (var make = Process.Start(new ProcessStartInfo("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", $"testsrc=size=64x48:rate=30:duration={frames / 30}",
                   "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", video]) { RedirectStandardError = true })!)
        {
            string err = await make.StandardError.ReadToEndAsync();
            await make.WaitForExitAsync();
            Assert.True(make.ExitCode == 0, err);
        }
        string model = TestModels.Save(TestModels.SmallConvNet("instance"), dir);

        var (exit, error, rss, peak) = await RunSampled("video", "-m", model, video, "-o", Path.Combine(dir, "out.mp4"), "--provider", "cpu");

        Assert.True(exit == 0, error);
        var (first, last) = Thirds(rss);
        output.WriteLine($"{frames} frames: peak RSS (VmHWM) {peak / MiB} MiB; mean RSS first third {first / MiB} MiB, last third {last / MiB} MiB; {rss.Count} samples");
        Assert.InRange(peak, 1, 600 * MiB);
        Assert.True(last < first * 1.3 + 30 * MiB, $"RSS grew from {first / MiB} to {last / MiB} MiB over the video");
    }

    /// <summary>
    /// Mean RSS of the first and the last third of the samples taken once start-up is over (RSS first reaches
    /// 80% of its median), so loading the runtime is not counted as growth.
    /// </summary>
    private static (long First, long Last) Thirds(List<long> rss)
    {
        long median = rss.Order().ElementAt(rss.Count / 2);
        var steady = rss.SkipWhile(r => r < median * 0.8).ToList();
        Assert.True(steady.Count >= 6, $"only {steady.Count} memory samples after start-up");
        int third = steady.Count / 3;
        return ((long)steady.Take(third).Average(), (long)steady.Skip(steady.Count - third).Average());
    }
}
