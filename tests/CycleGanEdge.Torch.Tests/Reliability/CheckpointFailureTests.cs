using System.CommandLine;
using System.Text.RegularExpressions;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Tests.Training;
using CycleGanEdge.Torch.Training;
using CycleGanEdge.Trainer.Commands;

namespace CycleGanEdge.Torch.Tests.Reliability;

/// <summary>Damaged states and full disks during training: named, the previous good state kept, nothing partial left.</summary>
public class CheckpointFailureTests
{
    private static string[] TrainArgs(TinyDomains data, string name, int epochs, params string[] extra) =>
    [
        "--dataroot", data.Root, "--name", name, "--checkpoints-dir", data.CheckpointsDir, "--netG", "resnet_6blocks",
        "--ngf", "8", "--ndf", "8", "--load-size", "32", "--crop-size", "32", "--n-epochs", epochs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // step: no epoch at lr 0, so one-epoch runs train (the linear rule's would be refused).
        "--n-epochs-decay", "0", "--lr-policy", "step", "--pool-size", "2", "--eval-freq", "0", "--threads", "1", "--workers", "1", .. extra,
    ];

    private static (int Exit, string Out, string Err) Train(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = TrainCommand.Create().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void A_damaged_latest_state_is_named_and_the_kept_previous_state_resumes_the_run()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var first = Train(TrainArgs(data, "torn", epochs: 2, "--save-latest-freq", "1"));
        Assert.True(first.Exit == 0, first.Err);
        string dir = Path.Combine(data.CheckpointsDir, "torn");
        string latest = Path.Combine(dir, TrainingState.FileName), previous = Path.Combine(dir, TrainingState.PreviousFileName);
        Assert.True(File.Exists(previous), "the state before the latest one is kept");

        // A torn write (or a disk error): the latest state loses its end.
        byte[] bytes = File.ReadAllBytes(latest);
        File.WriteAllBytes(latest, bytes[..(bytes.Length / 2)]);
        var resumed = Train(TrainArgs(data, "torn", epochs: 3, "--continue-train"));
        Assert.NotEqual(0, resumed.Exit);
        Assert.Contains($"{latest}: checksum mismatch: the file is corrupt or truncated", resumed.Err);
        Assert.Matches($@"The previous state {Regex.Escape(previous)} \(epoch \d+, iteration \d+ of the epoch\) is intact: to continue from it, run: mv '{Regex.Escape(previous)}' '{Regex.Escape(latest)}' and start again with --continue-train\.", resumed.Err);
        Assert.DoesNotContain("   at ", resumed.Err);

        // Doing what the message says works.
        File.Move(previous, latest, overwrite: true);
        var again = Train(TrainArgs(data, "torn", epochs: 3, "--continue-train"));
        Assert.True(again.Exit == 0, again.Err);
        Assert.Contains("Resuming", again.Out + again.Err);
    }

    [Fact]
    public void When_both_states_are_damaged_the_message_says_to_start_again()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        Assert.Equal(0, Train(TrainArgs(data, "both", epochs: 1, "--save-latest-freq", "1")).Exit);
        string dir = Path.Combine(data.CheckpointsDir, "both");
        foreach (string file in new[] { TrainingState.FileName, TrainingState.PreviousFileName })
        {
            string path = Path.Combine(dir, file);
            byte[] bytes = File.ReadAllBytes(path);
            bytes[bytes.Length / 2] ^= 0x40; // one flipped bit
            File.WriteAllBytes(path, bytes);
        }
        var resumed = Train(TrainArgs(data, "both", epochs: 2, "--continue-train"));
        Assert.NotEqual(0, resumed.Exit);
        Assert.Contains("is damaged too: start again without --continue-train", resumed.Err);
    }

    [MountSandboxFact]
    public void Training_onto_a_full_disk_stops_with_a_clear_error_and_keeps_the_last_good_state()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        Assert.Equal(0, Train(TrainArgs(data, "full", epochs: 1)).Exit);
        string runDir = Path.Combine(data.CheckpointsDir, "full");
        byte[] goodState = File.ReadAllBytes(Path.Combine(runDir, TrainingState.FileName));
        long used = Directory.GetFiles(runDir, "*", SearchOption.AllDirectories).Sum(f => (new FileInfo(f).Length + 4095) / 4096 * 4);

        // The run folder on a tmpfs with room for what is there plus a little: the next save cannot fit.
        string seed = Path.Combine(data.CheckpointsDir, "seed"), snapshot = Path.Combine(data.CheckpointsDir, "snapshot");
        Directory.Move(runDir, seed);
        var (exit, output, error) = MountSandbox.Run(runDir, (int)used + 48, readOnly: false, seed, snapshot,
            MountSandbox.Dotnet("cyclegan-train.dll", ["train", .. TrainArgs(data, "full", epochs: 2, "--continue-train")]));

        Assert.True(exit != 0, output + error);
        Assert.Matches(@"error: .*\.ckpt: cannot write the checkpoint \(disk full\); the previous file is unchanged", error);
        Assert.DoesNotContain("   at ", error);
        Assert.Empty(Directory.GetFiles(snapshot, "*.tmp", SearchOption.AllDirectories));
        Assert.Equal(goodState, File.ReadAllBytes(Path.Combine(snapshot, TrainingState.FileName)));
    }
}
