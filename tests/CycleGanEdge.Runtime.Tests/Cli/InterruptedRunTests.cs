using Xunit.Abstractions;

namespace CycleGanEdge.Runtime.Tests.Cli;

[Trait("Category", "Slow")]
public class InterruptedRunTests(ITestOutputHelper log)
{
    /// <summary>
    /// The real executable is SIGKILLed (no chance to clean up) at several random moments, each time resumed
    /// with --skip-existing. After every kill, each visible file must be a complete output identical to an
    /// uninterrupted run's (temp files are hidden: ".name.guid.tmp"); at the end the folders must match.
    /// Set CGE_KILL_SEED to replay a failure; the seed and each kill point are logged.
    /// </summary>
    [Fact]
    public async Task Runs_killed_at_random_moments_and_resumed_finish_like_an_uninterrupted_run()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("CGE_KILL_SEED"), out int s) ? s : 20261123;
        var rng = new Random(seed);
        log.WriteLine($"seed {seed}");
        string dir = TestFiles.TempFolder();
        string model = OutputFolder.TinyGenerator(dir);
        const int count = 48;
        string input = OutputFolder.Inputs(dir, count, side: 128);
        string[] options = ["-r", "-j", "1:1:1", "--provider", "cpu", "--threads", "1", "--batch", "1"];

        string reference = Path.Combine(dir, "reference");
        var r = await CliRunner.RunAsync(["translate", "-m", model, input, "-o", reference, .. options]);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(count, OutputFolder.VisibleFiles(reference).Length);

        string outDir = Path.Combine(dir, "out");
        int kills = 0;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            // A random moment: after 0-5 more outputs (0 = possibly still starting up), then 0-30 ms more.
            int before = OutputFolder.VisibleFiles(outDir).Length;
            int more = rng.Next(0, 6), extraMs = rng.Next(0, 31);
            using var process = CliProcess.Start(["translate", "-m", model, input, "-o", outDir, "--skip-existing", .. options]);
            await CliProcess.WaitUntilAsync(process, () => OutputFolder.VisibleFiles(outDir).Length >= before + more, TimeSpan.FromSeconds(60));
            await Task.Delay(extraMs);
            bool killed = await CliProcess.KillAsync(process);
            int after = OutputFolder.VisibleFiles(outDir).Length;
            log.WriteLine($"run {attempt}: kill after {more} more output(s) + {extraMs} ms: {(killed ? "killed" : "had finished")}, outputs {before} -> {after}");
            if (killed) kills++;

            OutputFolder.AssertOnlyCompleteOutputs(reference, outDir);
            if (after == count) break;
        }
        Assert.True(kills >= 3, $"only {kills} run(s) were killed mid-way; the test needs slower runs or earlier kill points");

        int finished = OutputFolder.VisibleFiles(outDir).Length;
        r = await CliRunner.RunAsync(["translate", "-m", model, input, "-o", outDir, "--skip-existing", .. options]);
        log.WriteLine(r.Output.Trim());
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"done: {count - finished}, skipped: {finished}, failed: 0", r.Output);
        OutputFolder.AssertSameOutputs(reference, outDir);
    }
}
