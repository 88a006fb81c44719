using System.Diagnostics;
using System.Globalization;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Tests.Training;
using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Torch.Tests.Reliability;

/// <summary>
/// The real cyclegan-train, killed with SIGKILL at seeded random moments (mid-step, mid-save, anywhere) and resumed
/// with --continue-train each time, ends with the same state as a run that was never interrupted.
/// </summary>
[Trait("Category", "Slow")]
public class KillAndResumeTests
{
    private static string[] Args(TinyDomains data, string name, bool resume) =>
    [
        Path.Combine(AppContext.BaseDirectory, "cyclegan-train.dll"), "train",
        "--dataroot", data.Root, "--name", name, "--checkpoints-dir", data.CheckpointsDir,
        "--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--load-size", "32", "--crop-size", "32",
        "--n-epochs", "2", "--n-epochs-decay", "1", "--pool-size", "4", "--save-latest-freq", "1", "--eval-freq", "0",
        "--threads", "1", "--workers", "1", "--seed", "7", .. (resume ? new[] { "--continue-train" } : []),
    ];

    private static Process Start(TinyDomains data, string name, bool resume) =>
        Process.Start(new ProcessStartInfo("dotnet", Args(data, name, resume)) { RedirectStandardOutput = true, RedirectStandardError = true })!;

    [Fact]
    public async Task Killed_at_random_moments_and_resumed_it_ends_where_an_uninterrupted_run_ends()
    {
        // Enough iterations (16 images x 3 epochs) that a quiet machine does not finish before several kills land.
        using var data = new TinyDomains(trainCount: 16, testCount: 1);
        using (var straight = Start(data, "straight", resume: false))
        {
            string err = await straight.StandardError.ReadToEndAsync();
            await straight.WaitForExitAsync();
            Assert.True(straight.ExitCode == 0, err);
        }

        string state = Path.Combine(data.CheckpointsDir, "killed", TrainingState.FileName);
        var random = new Random(20261123);
        int kills = 0;
        for (int attempt = 0; attempt < 12 && kills < 4; attempt++)
        {
            using var run = Start(data, "killed", resume: File.Exists(state));
            _ = run.StandardOutput.ReadToEndAsync();
            var stderr = run.StandardError.ReadToEndAsync();
            // Let it get past start-up and save at least once, then kill it after a random extra delay.
            DateTime saved = File.Exists(state) ? File.GetLastWriteTimeUtc(state) : DateTime.MinValue;
            var clock = Stopwatch.StartNew();
            while (!run.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30)
                   && (!File.Exists(state) || File.GetLastWriteTimeUtc(state) == saved))
                await Task.Delay(2);
            await Task.Delay(random.Next(0, 400));
            bool killedNow = false;
            if (!run.HasExited)
            {
                run.Kill(); // SIGKILL
                kills++;
                killedNow = true;
            }
            await run.WaitForExitAsync();
            if (run.ExitCode == 0) break;
            // A non-zero exit is only expected from this attempt's own kill; anything else is a failure of the run.
            Assert.True(killedNow, $"the run exited {run.ExitCode} without being killed: {await stderr}");
        }
        Assert.True(kills >= 3, $"only {kills} kills landed before the run finished");

        using (var finish = Start(data, "killed", resume: true))
        {
            string err = await finish.StandardError.ReadToEndAsync();
            await finish.WaitForExitAsync();
            Assert.True(finish.ExitCode == 0, err);
        }
        AssertSameState(Path.Combine(data.CheckpointsDir, "straight"), Path.Combine(data.CheckpointsDir, "killed"));
        Assert.Equal(File.ReadAllLines(Path.Combine(data.CheckpointsDir, "straight", "losses.csv")),
            File.ReadAllLines(Path.Combine(data.CheckpointsDir, "killed", "losses.csv")));
    }

    /// <summary>Same tolerance as the in-process resume test: 1e-6 on every tensor, equal positions and schedules.</summary>
    internal static void AssertSameState(string expectedRun, string actualRun)
    {
        var (headerE, tensorsE) = CheckpointFile.Load(Path.Combine(expectedRun, TrainingState.FileName));
        var (headerA, tensorsA) = CheckpointFile.Load(Path.Combine(actualRun, TrainingState.FileName));
        try
        {
            Assert.Equal(headerE.Epoch, headerA.Epoch);
            foreach (var key in new[] { "epoch_iter", "total_iters", "optimizer_G.step", "optimizer_D.step", "lr_schedule", "pool_fake_A.count", "pool_fake_B.count" })
                Assert.Equal(headerE.Extra[key], headerA.Extra[key]);
            Assert.Equal(tensorsE.Keys.Order(), tensorsA.Keys.Order());
            foreach (var (key, e) in tensorsE)
            {
                double diff = (e - tensorsA[key]).abs().max().item<float>();
                Assert.True(diff <= 1e-6, $"{key} differs by {diff.ToString("G3", CultureInfo.InvariantCulture)}");
            }
        }
        finally
        {
            foreach (var t in tensorsE.Values.Concat(tensorsA.Values)) t.Dispose();
        }
    }
}
