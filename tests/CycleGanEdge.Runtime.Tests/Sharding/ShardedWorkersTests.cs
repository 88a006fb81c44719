using System.Diagnostics;
using CycleGanEdge.Run.Batch;
using CycleGanEdge.Runtime.Tests.Cli;
using Xunit.Abstractions;

namespace CycleGanEdge.Runtime.Tests.Sharding;

[Trait("Category", "Slow")]
public class ShardedWorkersTests(ITestOutputHelper log)
{
    /// <summary>
    /// What a scheduler does with --shard i/n: n worker processes of the real CLI over one folder at once;
    /// one is SIGKILLed mid-run and its rerun with --skip-existing finishes its share. Together they must
    /// write every output exactly once, byte-identical to a single-process run.
    /// </summary>
    [Fact]
    public async Task Workers_with_one_killed_and_rerun_match_a_single_process_run()
    {
        string dir = TestFiles.TempFolder();
        string model = OutputFolder.TinyGenerator(dir);
        const int count = 45, n = 3, victim = 1;
        string input = OutputFolder.Inputs(dir, count, side: 128);
        string[] options = ["-r", "-j", "1:1:1", "--provider", "cpu", "--threads", "1", "--batch", "1"];

        string single = Path.Combine(dir, "single");
        var r = await CliRunner.RunAsync(["translate", "-m", model, input, "-o", single, .. options]);
        Assert.Equal(0, r.ExitCode);

        string outDir = Path.Combine(dir, "out");
        var victimShard = new Shard(victim, n);
        int VictimOutputs() => OutputFolder.VisibleFiles(outDir).Count(victimShard.Owns);
        int victimShare = OutputFolder.VisibleFiles(single).Count(victimShard.Owns);
        Assert.InRange(victimShare, 3, count); // enough to be caught mid-way

        var workers = Enumerable.Range(0, n).Select(i => CliProcess.Start(["translate", "-m", model, input, "-o", outDir, "--shard", $"{i}/{n}", .. options])).ToArray();
        try
        {
            await CliProcess.WaitUntilAsync(workers[victim], () => VictimOutputs() >= 2, TimeSpan.FromSeconds(60));
            Assert.True(await CliProcess.KillAsync(workers[victim]), "the victim finished before it could be killed");
            int before = VictimOutputs();
            log.WriteLine($"worker {victim}/{n} killed after {before} of {victimShare} outputs");
            Assert.InRange(before, 2, victimShare - 1);

            for (int i = 0; i < n; i++)
            {
                if (i == victim) continue;
                await workers[i].WaitForExitAsync();
                Assert.Equal(0, workers[i].ExitCode);
            }
            r = await CliProcess.RunAsync(["translate", "-m", model, input, "-o", outDir, "--shard", $"{victim}/{n}", "--skip-existing", .. options]);
            Assert.Equal(0, r.ExitCode);
            Assert.Contains($"done: {victimShare - before}, skipped: {before}, failed: 0", r.Output);
        }
        finally
        {
            foreach (Process w in workers)
            {
                if (!w.HasExited) w.Kill(entireProcessTree: true);
                w.Dispose();
            }
        }
        OutputFolder.AssertSameOutputs(single, outDir);
    }
}
