using CycleGanEdge.Runtime.CommandLine;
using System.CommandLine;
using CycleGanEdge.Trainer.Commands;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>cyclegan-train train/bench through their command-line parsers.</summary>
public class TrainCommandTests
{
    private static (int Exit, string Out, string Err) Invoke(Command command, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = CommandLineHost.InvokeAsync("cyclegan-train", command, args, output, error).GetAwaiter().GetResult();
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Train_runs_from_the_command_line_and_writes_its_options()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var (exit, output, error) = Invoke(TrainCommand.Create(),
            "--dataroot", data.Root, "--name", "cli", "--checkpoints-dir", data.CheckpointsDir, "--netG", "encoder_decoder",
            "--ngf", "8", "--ndf", "8", "--load-size", "32", "--crop-size", "32", "--n-epochs", "1", "--n-epochs-decay", "0",
            "--threads", "1", "--workers", "1", "--lambda-A", "5", "--domain-a", "shape");
        Assert.True(exit == 0, error);
        Assert.Contains("Finished 1 epochs", output);
        // A one-epoch linear schedule trains at lr 0 throughout (the reference's rule), and the user is told so.
        Assert.Contains("note: epoch 1 of 1 train at lr 0", output);
        Assert.Contains("Nothing in this run will train", output);
        string opt = File.ReadAllText(Path.Combine(data.CheckpointsDir, "cli", "opt.json"));
        Assert.Contains("\"lambda_a\": 5", opt);
        Assert.Contains("\"net_g\": \"encoder_decoder\"", opt);
        Assert.Contains("\"domain_a\": \"shape\"", opt);
    }

    [Fact]
    public void Cuda_on_a_cpu_build_explains_how_to_build_for_it()
    {
        using var data = new TinyDomains(trainCount: 1, testCount: 1);
        var (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--device", "cuda");
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("dotnet build -p:Accelerator=cuda", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Bad_options_and_missing_data_are_clear_errors()
    {
        using var data = new TinyDomains(trainCount: 1, testCount: 1);
        var (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--gan-mode", "hinge");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--gan-mode: 'hinge' is not one of: lsgan, vanilla, wgangp", error);

        (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", Path.Combine(data.Root, "missing"), "--checkpoints-dir", data.CheckpointsDir);
        Assert.NotEqual(0, exit);
        Assert.Contains("missing", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Bench_reports_seconds_per_iteration_as_json()
    {
        var (exit, output, error) = Invoke(BenchCommand.Create(),
            "--netG", "encoder_decoder", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--iters", "2", "--warmup", "1", "--threads", "1", "--json");
        Assert.True(exit == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("seconds_per_iter_mean").GetDouble() > 0);
        Assert.Equal(2, json.RootElement.GetProperty("iters").GetInt32());
        Assert.Equal(1, json.RootElement.GetProperty("threads").GetInt32());
        Assert.True(json.RootElement.GetProperty("cores").GetInt32() >= 1);
    }

    [Fact]
    public void Eval_classifier_must_exist_and_reaches_the_options()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        string missing = Path.Combine(data.Root, "nope.onnx");
        var (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--eval-classifier", missing);
        Assert.NotEqual(0, exit);
        Assert.Contains("nope.onnx", error);

        // An existing file that is not a classifier: a one-line user error naming it, no stack trace.
        string notClassifier = Path.Combine(data.Root, "testA", "000.png");
        (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--name", "cls",
            "--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--load-size", "32", "--n-epochs", "1", "--n-epochs-decay", "0",
            "--threads", "1", "--workers", "1", "--eval-classifier", notClassifier);
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("--eval-classifier", error);
        Assert.Contains("000.png", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void A_diverged_run_exits_3_which_is_neither_usage_nor_failure()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        // A cycle weight beyond float range makes the cycle loss infinite on the first step.
        var options = data.Options("diverged") with { EvalFreq = 0, LambdaA = 1e39 };
        var error = new StringWriter();
        int exit = TrainCommand.Run(options, TextWriter.Null, error, CancellationToken.None);
        Assert.Equal(ExitCodes.Diverged, exit);
        Assert.Equal(3, ExitCodes.Diverged);
        Assert.Contains("cycle_A", error.ToString());
    }
}
