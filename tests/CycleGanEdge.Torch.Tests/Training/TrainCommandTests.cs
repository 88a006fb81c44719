using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Torch.Training;
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
    public void Every_option_fixed_on_resume_is_an_option_of_train()
    {
        // [FixedOnResume] names the option a second time (the resume message needs it): a typo or rename must fail here.
        var names = TrainCommand.Create().Options.Select(o => o.Name).ToHashSet();
        Assert.All(TrainOptions.FixedOnResume, f => Assert.Contains(f.Option, names));
    }

    [Fact]
    public void Train_runs_from_the_command_line_and_writes_its_options()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var (exit, output, error) = Invoke(TrainCommand.Create(),
            "--dataroot", data.Root, "--name", "cli", "--checkpoints-dir", data.CheckpointsDir, "--netG", "encoder_decoder",
            "--ngf", "8", "--ndf", "8", "--load-size", "32", "--crop-size", "32", "--n-epochs", "1", "--n-epochs-decay", "1",
            "--threads", "1", "--workers", "1", "--lambda-A", "5", "--domain-a", "shape");
        Assert.True(exit == 0, error);
        Assert.Contains("Finished 2 epochs", output);
        // The last epoch of a linear schedule trains at lr 0 (the reference's rule), and the user is told so.
        Assert.Contains("note: epoch 2 of 2 train at lr 0", output);
        Assert.Contains("The weights are final after epoch 1.", output);
        string opt = File.ReadAllText(Path.Combine(data.CheckpointsDir, "cli", "opt.json"));
        Assert.Contains("\"lambda_a\": 5", opt);
        Assert.Contains("\"net_g\": \"encoder_decoder\"", opt);
        Assert.Contains("\"domain_a\": \"shape\"", opt);
    }

    [Fact]
    public void Cuda_on_a_cpu_build_is_a_usage_error_that_explains_how_to_build_for_it()
    {
        using var data = new TinyDomains(trainCount: 1, testCount: 1);
        var (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--device", "cuda");
        // Exit 2, as cyclegan-run --provider cuda on a CPU build: the build cannot do what the command line asks.
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.StartsWith("error: --device cuda: this build has no CUDA support", error);
        Assert.Contains("dotnet build -p:Accelerator=cuda", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(data.CheckpointsDir), "nothing is written before the device is known");

        // bench too, and with --model cut before any child process starts (a child's failure would be exit 1).
        foreach (string[] args in new[] { new[] { "--device", "cuda" }, ["--model", "cut", "--device", "cuda:1"] })
        {
            (exit, var output, error) = Invoke(BenchCommand.Create(), args);
            Assert.Equal(ExitCodes.Usage, exit);
            Assert.Contains("dotnet build -p:Accelerator=cuda", error);
            Assert.Equal("", output);
        }
    }

    [Theory]
    [InlineData("--input-nc", "2", "--input-nc: must be 1 or 3, not 2")]
    [InlineData("--output-nc", "4", "--output-nc: must be 1 or 3, not 4")]
    [InlineData("--device", "gpu", "--device: 'gpu' is not one of: auto, cpu, cuda, cuda:N")]
    [InlineData("--load-size", "0", "--load-size: must be at least 1, not 0")]
    [InlineData("--max-dataset-size", "0", "--max-dataset-size: must be at least 1, not 0")]
    [InlineData("--workers", "0", "--workers: must be at least 1, not 0")]
    [InlineData("--lambda-gp", "-1", "--lambda-gp: must be a number of at least 0, not -1")]
    [InlineData("--d-steps", "0", "--d-steps: must be at least 1, not 0")]
    [InlineData("--n-epochs", "-1", "--n-epochs: must be at least 0, not -1")]
    [InlineData("--n-epochs-decay", "-1", "--n-epochs-decay: must be at least 0, not -1")]
    [InlineData("--epoch-count", "0", "--epoch-count: must be at least 1, not 0")]
    [InlineData("--lr-decay-iters", "0", "--lr-decay-iters: must be at least 1, not 0")]
    [InlineData("--save-epoch-freq", "0", "--save-epoch-freq: must be at least 1, not 0")]
    [InlineData("--save-latest-freq", "0", "--save-latest-freq: must be at least 1, not 0")]
    [InlineData("--print-freq", "0", "--print-freq: must be at least 1, not 0")]
    [InlineData("--eval-freq", "-1", "--eval-freq: must be at least 0, not -1")]
    [InlineData("--eval-images", "0", "--eval-images: must be at least 1, not 0")]
    [InlineData("--sample-count", "0", "--sample-count: must be at least 1, not 0")]
    [InlineData("--phase", " ", "--phase: cannot be empty")]
    [InlineData("--name", "a/b", "--name: 'a/b' is not a valid folder name")]
    public void Single_option_rules_are_parser_errors_before_any_work(string option, string value, string message)
    {
        // The data root does not hold a dataset: had the parser let the value through, the run would fail there, exit 1.
        using var data = new TinyDomains(trainCount: 1, testCount: 1);
        string empty = Directory.CreateDirectory(data.Root + "-empty").FullName;
        var commands = new List<(Command Command, string[] Args)> { (TrainCommand.Create(), ["--dataroot", empty, "--checkpoints-dir", data.CheckpointsDir, option, value]) };
        if (BenchCommand.Create().Options.Any(o => o.Name == option)) commands.Add((BenchCommand.Create(), [option, value]));
        foreach (var (command, args) in commands)
        {
            Assert.Contains(command.Parse(args).Errors, e => e.SymbolResult is System.CommandLine.Parsing.OptionResult r && r.Option.Name == option);
            var (exit, output, error) = Invoke(command, args);
            Assert.Equal(ExitCodes.Usage, exit);
            Assert.Equal($"error: {message}", error.Trim());
            Assert.Equal("", output);
        }
        Assert.False(Directory.Exists(data.CheckpointsDir));
    }

    [Theory]
    [InlineData("error: --n-epochs + --n-epochs-decay must be at least 1", "--n-epochs", "0", "--n-epochs-decay", "0")] // no epoch to train
    [InlineData("error: --n-epochs 1 --n-epochs-decay 0: every epoch would train at lr 0 (--lr-policy linear: the reference's linear rule gives the last epoch lr 0), so nothing would train; add an epoch with --n-epochs or --n-epochs-decay",
        "--n-epochs", "1", "--n-epochs-decay", "0")]
    [InlineData("error: --n-epochs 3 --n-epochs-decay 0: every epoch would train at lr 0 (--lr-policy linear: the reference's linear rule gives the last epoch lr 0), so nothing would train; add an epoch with --n-epochs or --n-epochs-decay",
        "--n-epochs", "3", "--n-epochs-decay", "0", "--epoch-count", "3")]
    [InlineData("error: --antialias is for resnet generators, not unet_128", "--antialias", "--netG", "unet_128")]
    [InlineData("error: --residual is for resnet generators, not unet_128", "--residual", "--netG", "unet_128")]
    [InlineData("error: --residual adds the input to the output: it needs --input-nc == --output-nc", "--residual", "--input-nc", "1", "--lambda-identity", "0")]
    [InlineData("error: --model cut needs a resnet generator (--netG resnet_9blocks or resnet_6blocks), not unet_128", "--model", "cut", "--netG", "unet_128")]
    [InlineData("error: --netG: 'unet_12' is not one of: resnet_9blocks, resnet_6blocks, unet_128, unet_256, encoder_decoder", "--antialias", "--netG", "unet_12")] // reported once, by the option
    public void Cross_option_rules_are_parser_errors_before_any_work(string message, params string[] options)
    {
        // Each value is fine alone; together they are not. The command validator reads the whole record (--model's defaults included).
        using var data = new TinyDomains(trainCount: 1, testCount: 1);
        string[] args = ["--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, .. options];
        Assert.NotEmpty(TrainCommand.Create().Parse(args).Errors);
        var (exit, output, error) = Invoke(TrainCommand.Create(), args);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Equal(message, error.Trim());
        Assert.Equal("", output);
        Assert.False(Directory.Exists(data.CheckpointsDir));
        if (BenchCommand.Create().Options.Any(o => o.Name == options[0]))
            Assert.Equal(message, Invoke(BenchCommand.Create(), options).Err.Trim());
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
        Assert.Equal("cyclegan", json.RootElement.GetProperty("model").GetString());
        Assert.True(json.RootElement.GetProperty("peak_rss_mb").GetDouble() >= json.RootElement.GetProperty("rss_before_mb").GetDouble());
    }

    [Fact]
    public void Bench_of_cut_compares_it_with_cyclegan_each_in_its_own_process()
    {
        var (exit, output, error) = Invoke(BenchCommand.Create(), "--model", "cut",
            "--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--iters", "2", "--warmup", "1", "--threads", "1", "--num-patches", "16", "--json");
        Assert.True(exit == 0, error);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        var runs = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(["cyclegan", "cut"], runs.Select(r => r.GetProperty("model").GetString()));
        foreach (var r in runs)
        {
            // The options given reach both runs; each child process has its own peak.
            Assert.Equal(("resnet_6blocks", 32, 2, 1), (r.GetProperty("net_g").GetString(), r.GetProperty("crop_size").GetInt32(), r.GetProperty("iters").GetInt32(), r.GetProperty("threads").GetInt32()));
            Assert.True(r.GetProperty("seconds_per_iter_median").GetDouble() > 0);
            Assert.True(r.GetProperty("peak_rss_mb").GetDouble() > r.GetProperty("rss_before_mb").GetDouble());
        }

        (exit, output, error) = Invoke(BenchCommand.Create(), "--model", "fastcut",
            "--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--iters", "1", "--warmup", "0", "--threads", "1", "--num-patches", "16");
        Assert.True(exit == 0, error);
        Assert.Matches(@"fastcut vs cyclegan: [0-9.]+x the median step time, [0-9.]+x the peak RSS", output);

        foreach (var compare in new[] { "true", "false" })
        {
            (exit, _, error) = Invoke(BenchCommand.Create(), "--model", "cut", "--netG", "unet_128", "--iters", "1", "--warmup", "0", "--compare", compare);
            Assert.Equal(ExitCodes.Usage, exit);
            Assert.Equal("error: --model cut needs a resnet generator (--netG resnet_9blocks or resnet_6blocks), not unet_128", error.Trim());
        }
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
            "--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop-size", "32", "--load-size", "32", "--n-epochs", "1", "--n-epochs-decay", "1",
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

    [Fact]
    public void Model_sets_the_reference_defaults_of_cut_and_fastcut_unless_an_option_is_given()
    {
        var set = new TrainOptionSet();
        var command = new Command("t");
        foreach (var option in set.All) command.Options.Add(option);
        TrainOptions Read(params string[] args)
        {
            var p = command.Parse(args);
            Assert.Empty(p.Errors);
            return set.Read(p);
        }

        var fast = Read("--model", "fastcut");
        Assert.Equal(("fastcut", 10.0, false, true, 0, "xavier", 150, 50), (fast.Model, fast.LambdaNce, fast.NceIdt, fast.FlipEquivariance, fast.PoolSize, fast.InitType, fast.NEpochs, fast.NEpochsDecay));
        Assert.Equal(("0,4,8,12,16", 256, 0.07, 256), (fast.NceLayers, fast.NumPatches, fast.NceT, fast.NetFNc));
        var cut = Read("--model", "cut", "--lambda-NCE", "2", "--init-type", "normal", "--nce-idt", "false");
        Assert.Equal(("cut", 2.0, false, false, "normal", 200, 200), (cut.Model, cut.LambdaNce, cut.NceIdt, cut.FlipEquivariance, cut.InitType, cut.NEpochs, cut.NEpochsDecay));
        var cycle = Read();
        Assert.Equal(("cyclegan", 50, "normal", 100), (cycle.Model, cycle.PoolSize, cycle.InitType, cycle.NEpochs));
    }

    [Theory]
    [InlineData("--model", "unit", "--model 'unit' is not one of: cyclegan, cut, fastcut")]
    [InlineData("--nce-layers", "0,x", "--nce-layers '0,x' must be ascending")]
    [InlineData("--nce-layers", "8,4", "--nce-layers '8,4' must be ascending")]
    [InlineData("--num-patches", "0", "--num-patches must be at least 1, not 0")]
    [InlineData("--nce-T", "0", "--nce-T must be a number above 0, not 0")]
    [InlineData("--netF-nc", "-1", "--netF-nc must be at least 1, not -1")]
    [InlineData("--lambda-NCE", "-1", "--lambda-NCE must be a number of at least 0, not -1")]
    public void Bad_cut_options_are_parse_errors(string option, string value, string message)
    {
        foreach (var command in new[] { TrainCommand.Create(), BenchCommand.Create() })
        {
            var p = command.Parse(command.Name == "train" ? ["--dataroot", ".", option, value] : [option, value]);
            Assert.Contains(p.Errors, e => e.Message.StartsWith(message, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Fastcut_trains_from_the_command_line()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var (exit, output, error) = Invoke(TrainCommand.Create(),
            "--dataroot", data.Root, "--name", "fast", "--checkpoints-dir", data.CheckpointsDir, "--model", "fastcut", "--netG", "resnet_6blocks",
            "--ngf", "8", "--ndf", "8", "--load-size", "32", "--crop-size", "32", "--n-epochs", "1", "--n-epochs-decay", "1",
            "--threads", "1", "--workers", "1", "--num-patches", "16", "--print-freq", "1");
        Assert.True(exit == 0, error);
        Assert.Contains("Finished 2 epochs", output);
        Assert.Matches(@"G_GAN: [0-9.]+ D_real: [0-9.]+ D_fake: [0-9.]+ G: [0-9.]+ NCE: [0-9.]+", output);
        Assert.DoesNotContain("NCE_Y", output);
        string opt = File.ReadAllText(Path.Combine(data.CheckpointsDir, "fast", "opt.json"));
        Assert.Contains("\"model\": \"fastcut\"", opt);
        Assert.Contains("\"lambda_nce\": 10", opt);
        Assert.Contains("\"flip_equivariance\": true", opt);

        (exit, _, error) = Invoke(TrainCommand.Create(), "--dataroot", data.Root, "--checkpoints-dir", data.CheckpointsDir, "--model", "cut", "--netG", "unet_128");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--model cut needs a resnet generator", error);
        Assert.DoesNotContain("   at ", error);
    }
}
