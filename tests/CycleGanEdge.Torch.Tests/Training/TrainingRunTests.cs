using CycleGanEdge.Torch.Data;
using System.Globalization;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Training;

/// <summary>Whole training runs on tiny generated domains (ngf 8, 32 px, one thread).</summary>
public class TrainingRunTests
{
    [Fact]
    public void Resume_checks_exactly_the_network_data_shape_and_random_stream_options()
    {
        // A field losing or gaining [FixedOnResume] changes what --continue-train accepts: make it visible in review.
        Assert.Equal(
            ["--model", "--batch-size", "--seed", "--netG", "--netD", "--n-layers-D", "--ngf", "--ndf", "--norm", "--no-dropout",
             "--upsample", "--antialias", "--residual", "--input-nc", "--output-nc", "--pool-size", "--nce-layers", "--netF-nc"],
            TrainOptions.FixedOnResume.Select(f => f.Option));
    }

    [Fact]
    public void Training_brings_test_set_cycle_error_clearly_down()
    {
        using var data = new TinyDomains(trainCount: 16, testCount: 4);
        var options = data.Options("learn", epochs: 10) with { EvalFreq = 1, NEpochs = 6, NEpochsDecay = 4 };

        var result = new TrainingRun(options, TextWriter.Null).Run();

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        var metrics = ReadMetrics(options);
        Assert.Equal(Enumerable.Range(1, 10), metrics.Select(m => m.Epoch));
        double first = metrics[0].Mean, last = metrics[^1].Mean;
        Assert.True(last < 0.6 * first, $"test-set cycle L1 went from {first:F4} (epoch 1) to {last:F4} (epoch 10)");
        Assert.True(last < 0.2, $"test-set cycle L1 after 160 steps is {last:F4}");
    }

    [Fact]
    public void Run_writes_reference_outputs()
    {
        using var data = new TinyDomains(trainCount: 4, testCount: 2);
        var options = data.Options("outputs", epochs: 2) with { SaveEpochFreq = 1, SampleCount = 2 };

        new TrainingRun(options, TextWriter.Null).Run();

        string dir = options.RunDirectory;
        foreach (var name in new[] { "G_A", "G_B", "D_A", "D_B" })
        {
            Assert.True(File.Exists(Path.Combine(dir, $"latest_net_{name}.ckpt")), name);
            Assert.True(File.Exists(Path.Combine(dir, $"1_net_{name}.ckpt")), name);
            Assert.True(File.Exists(Path.Combine(dir, $"2_net_{name}.ckpt")), name);
        }
        foreach (var file in new[] { "opt.txt", "opt.json", "latest_state.ckpt", "losses.csv", "losses.png", "metrics.csv", "metrics.png", "web/index.html", "web/images/epoch001_A.png", "web/images/epoch002_B.png" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));

        // Generator files carry what the exporter needs, with domain names from the data root "shapes2inverted".
        var (headerA, tensorsA) = CheckpointFile.Load(Path.Combine(dir, "latest_net_G_A.ckpt"));
        foreach (var t in tensorsA.Values) t.Dispose();
        Assert.Equal((CheckpointKinds.Generator, "AtoB", "shapes", "inverted", 32), (headerA.Kind, headerA.Direction, headerA.DomainIn, headerA.DomainOut, headerA.TrainSize));
        Assert.Equal("resnet_6blocks", headerA.Generator!.Arch);
        var (generator, headerB) = CheckpointFile.LoadGenerator(Path.Combine(dir, "latest_net_G_B.ckpt"));
        generator.Dispose();
        Assert.Equal(("BtoA", "inverted", "shapes"), (headerB.Direction, headerB.DomainIn, headerB.DomainOut));
        // Not a cyclegan-train data set (no DATASET.md saying so): the loader dropped alpha, and the header says that.
        var recorded = TrainingPreprocessing.From(headerA.Extra)!;
        Assert.Equal(("drop", "none", options.Preprocess, options.LoadSize), (recorded.Alpha, recorded.Background, recorded.TrainPreprocess, recorded.LoadSize));

        // One loss row per iteration; the sample grid has SampleCount rows of real | fake | rec.
        var lossRows = File.ReadAllLines(Path.Combine(dir, "losses.csv"));
        Assert.Equal("epoch,total_iters,epoch_iter,lr,D_A,G_A,cycle_A,idt_A,D_B,G_B,cycle_B,idt_B", lossRows[0]);
        Assert.Equal(8, lossRows.Length - 1);
        var grid = Core.Imaging.ImageCodec.Decode(Path.Combine(dir, "web/images/epoch002_A.png"));
        Assert.Equal((96, 64), (grid.Width, grid.Height));
        Assert.Contains("epoch002_A.png", File.ReadAllText(Path.Combine(dir, "web/index.html")));
        Assert.Equal(options, TrainOptions.FromJson(File.ReadAllText(Path.Combine(dir, "opt.json"))));
    }

    [Fact]
    public void Resumed_runs_end_exactly_where_an_uninterrupted_run_ends()
    {
        using var data = new TinyDomains(trainCount: 6, testCount: 2);
        // 3 epochs x 6 iterations, lr decaying from epoch 2 (epoch 3 trains at lr 0, as in the reference), a pool of 4 that fills and then swaps, saves every 4 iterations.
        TrainOptions Options(string name) => data.Options(name) with { NEpochs = 2, NEpochsDecay = 1, SaveLatestFreq = 4, PoolSize = 4 };

        var straight = Options("straight");
        Assert.Equal(TrainingOutcome.Completed, new TrainingRun(straight, TextWriter.Null).Run().Outcome);

        // Interrupted run: keep the state saved at iteration 8 (as a kill -9 at iteration 10 would leave it),
        // then stop cleanly at iteration 10.
        var interrupted = Options("interrupted");
        string killedDir = Path.Combine(data.CheckpointsDir, "killed");
        using var stop = new CancellationTokenSource();
        var progress = new InlineProgress(r =>
        {
            if (r.TotalIters == 9) CopyRun(interrupted.RunDirectory, killedDir);
            if (r.TotalIters == 10) stop.Cancel();
        });
        var first = new TrainingRun(interrupted, TextWriter.Null, progress).Run(stop.Token);
        Assert.Equal(TrainingOutcome.Cancelled, first.Outcome);
        Assert.Equal(new TrainingPosition(2, 4, 10, first.Position.EpochLossSum, first.Position.EpochLossCount), first.Position);

        var resumed = new TrainingRun(interrupted with { ContinueTrain = true }, TextWriter.Null).Run();
        Assert.Equal(TrainingOutcome.Completed, resumed.Outcome);
        AssertSameState(straight, interrupted);

        // The "killed" copy resumes from iteration 8; rows a killed run wrote after that save are dropped and redone.
        File.AppendAllLines(Path.Combine(killedDir, "losses.csv"), ["2,9,3,0.0002,9,9,9,9,9,9,9,9", "2,10,4,0.0002,9,9,9,9,9,9,9,9"]);
        var killed = Options("killed") with { ContinueTrain = true };
        Assert.Equal(TrainingOutcome.Completed, new TrainingRun(killed, TextWriter.Null).Run().Outcome);
        AssertSameState(straight, killed);
        Assert.Equal(File.ReadAllLines(Path.Combine(straight.RunDirectory, "losses.csv")), File.ReadAllLines(Path.Combine(killed.RunDirectory, "losses.csv")));
        Assert.Equal(File.ReadAllLines(Path.Combine(straight.RunDirectory, "metrics.csv")), File.ReadAllLines(Path.Combine(interrupted.RunDirectory, "metrics.csv")));
    }

    [Fact]
    public void Non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint()
    {
        using var data = new TinyDomains(trainCount: 3, testCount: 1);
        var options = data.Options("nan", epochs: 2) with { EvalFreq = 0 };
        var good = new TrainingRun(options with { NEpochs = 1 }, TextWriter.Null).Run();
        Assert.Equal(TrainingOutcome.Completed, good.Outcome);
        string state = Path.Combine(options.RunDirectory, TrainingState.FileName);
        string generator = Path.Combine(options.RunDirectory, "latest_net_G_A.ckpt");
        byte[] stateBefore = File.ReadAllBytes(state), generatorBefore = File.ReadAllBytes(generator);

        // A cycle weight beyond float range makes the cycle loss infinite on the first step.
        var result = new TrainingRun(options with { ContinueTrain = true, LambdaA = 1e39, SaveLatestFreq = 1 }, TextWriter.Null).Run();

        Assert.Equal(TrainingOutcome.NonFiniteLoss, result.Outcome);
        Assert.Contains("cycle_A", result.Message);
        Assert.Contains(state, result.Message);
        Assert.Equal(stateBefore, File.ReadAllBytes(state));
        Assert.Equal(generatorBefore, File.ReadAllBytes(generator));
    }

    [Fact]
    public void Continue_train_refuses_other_network_options_and_missing_state()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var options = data.Options("mismatch") with { EvalFreq = 0 };
        var missing = Assert.Throws<TrainingException>(() => new TrainingRun(options with { ContinueTrain = true }, TextWriter.Null).Run());
        Assert.Contains("latest_state.ckpt", missing.Message);

        new TrainingRun(options, TextWriter.Null).Run();
        var other = Assert.Throws<TrainingException>(() => new TrainingRun(options with { ContinueTrain = true, Ngf = 16 }, TextWriter.Null).Run());
        Assert.Contains("--ngf was 8, now 16", other.Message);
    }

    [Fact]
    public void Resize_upsampling_is_kept_in_opt_checkpoints_and_resume()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        var options = data.Options("resize") with { EvalFreq = 0, Upsample = NetworkFactory.ResizeUpsampling };
        new TrainingRun(options, TextWriter.Null).Run();

        string dir = options.RunDirectory;
        Assert.Matches(@"(?m)^ +upsample: resize\s+\[default: convtranspose\]$", File.ReadAllText(Path.Combine(dir, "opt.txt")));
        var (generator, header) = CheckpointFile.LoadGenerator(Path.Combine(dir, "latest_net_G_A.ckpt"));
        using (generator)
        {
            Assert.Equal(NetworkFactory.ResizeUpsampling, header.Generator!.Upsample);
            Assert.Contains(generator.modules(), m => m is TorchSharp.Modules.Upsample);
            Assert.DoesNotContain(generator.modules(), m => m is TorchSharp.Modules.ConvTranspose2d);
        }

        var other = Assert.Throws<TrainingException>(() =>
            new TrainingRun(options with { ContinueTrain = true, Upsample = NetworkFactory.ConvTransposeUpsampling }, TextWriter.Null).Run());
        Assert.Contains("--upsample was resize, now convtranspose", other.Message);
        var resumed = new TrainingRun(options with { ContinueTrain = true, NEpochs = options.NEpochs + 1 }, TextWriter.Null).Run();
        Assert.Equal(TrainingOutcome.Completed, resumed.Outcome);
    }

    private static void AssertSameState(TrainOptions expected, TrainOptions actual)
    {
        var (headerE, tensorsE) = CheckpointFile.Load(Path.Combine(expected.RunDirectory, TrainingState.FileName));
        var (headerA, tensorsA) = CheckpointFile.Load(Path.Combine(actual.RunDirectory, TrainingState.FileName));
        try
        {
            Assert.Equal(headerE.Epoch, headerA.Epoch);
            foreach (var key in new[] { "total_iters", "optimizer_G.step", "optimizer_D.step", "lr_schedule", "pool_fake_A.count" })
                Assert.Equal(headerE.Extra[key], headerA.Extra[key]);
            Assert.Equal(tensorsE.Keys.Order(), tensorsA.Keys.Order());
            Assert.Contains(tensorsE.Keys, k => k.StartsWith("pool_fake_B.", StringComparison.Ordinal));
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

    [Fact]
    public void Eval_freq_adds_paired_psnr_ssim_and_classifier_rates_at_the_eval_epochs()
    {
        using var data = new TinyDomains(trainCount: 4, testCount: 3);
        // A classifier that says "B" for every image: A->B translations are all "classified as B" (1),
        // B->A translations never "classified as A" (0); a swapped direction would show.
        string classifierPath = Path.Combine(data.CheckpointsDir, "always_b.onnx");
        Directory.CreateDirectory(data.CheckpointsDir);
        using (var net = new CycleGanEdge.Torch.Evaluation.DomainClassifierNet(width: 2))
        {
            using (var noGrad = no_grad())
            {
                foreach (var p in net.parameters()) p.zero_();
                net.Head.bias![1].fill_(1f);
            }
            File.WriteAllBytes(classifierPath, CycleGanEdge.Exporter.ClassifierExport.ToBytes(net, 32, ["shapes", "inverted"]));
        }
        var options = data.Options("quality", epochs: 3) with { EvalFreq = 2, EvalClassifier = classifierPath };
        var log = new StringWriter();

        var result = new TrainingRun(options, log).Run();

        Assert.Equal(TrainingOutcome.Completed, result.Outcome);
        var lines = File.ReadAllLines(Path.Combine(options.RunDirectory, "metrics.csv"));
        Assert.Equal("epoch,cycle_l1_A,cycle_l1_B,images_A,images_B,pairs,psnr_AtoB,ssim_AtoB,psnr_BtoA,ssim_BtoA,classified_B_AtoB,classified_A_BtoA", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(["2", "3"], rows.Select(r => r[0])); // every 2nd epoch and the last
        foreach (var r in rows)
        {
            double D(int i) => double.Parse(r[i], CultureInfo.InvariantCulture);
            Assert.Equal("3", r[5]); // TinyDomains names testA/testB files alike: 3 pairs
            Assert.InRange(D(6), 1, 99);
            Assert.InRange(D(7), -1, 1);
            Assert.InRange(D(8), 1, 99);
            Assert.InRange(D(9), -1, 1);
            Assert.Equal(1.0, D(10));
            Assert.Equal(0.0, D(11));
        }
        Assert.Contains("PSNR/SSIM on 3 pairs", log.ToString());
        Assert.True(File.Exists(Path.Combine(options.RunDirectory, "metrics.png")));

        // Without test pairs or a classifier the quality columns stay empty.
        foreach (var f in Directory.GetFiles(Path.Combine(data.Root, "testB"))) File.Move(f, Path.Combine(Path.GetDirectoryName(f)!, "b" + Path.GetFileName(f)));
        var plain = data.Options("plain", epochs: 1);
        new TrainingRun(plain, TextWriter.Null).Run();
        var plainRow = File.ReadAllLines(Path.Combine(plain.RunDirectory, "metrics.csv"))[1].Split(',');
        Assert.Equal(12, plainRow.Length);
        Assert.All(plainRow[5..], c => Assert.Equal("", c));
    }

    [Fact]
    public void A_classifier_without_test_images_is_a_clear_error()
    {
        using var data = new TinyDomains(trainCount: 2, testCount: 1);
        Directory.Delete(Path.Combine(data.Root, "testB"), recursive: true);
        var options = data.Options("noeval", epochs: 1) with { EvalClassifier = Path.Combine(data.Root, "c.onnx") };
        var e = Assert.Throws<TrainingException>(() => new TrainingRun(options, TextWriter.Null).Run());
        Assert.Contains("--eval-classifier", e.Message);
        Assert.Contains("testA", e.Message);
    }

    private static List<(int Epoch, double Mean)> ReadMetrics(TrainOptions options) =>
        File.ReadAllLines(Path.Combine(options.RunDirectory, "metrics.csv")).Skip(1)
            .Select(l => l.Split(','))
            .Select(c => (int.Parse(c[0], CultureInfo.InvariantCulture), (double.Parse(c[1], CultureInfo.InvariantCulture) + double.Parse(c[2], CultureInfo.InvariantCulture)) / 2))
            .ToList();

    private static void CopyRun(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    private sealed class InlineProgress(Action<IterationReport> report) : IProgress<IterationReport>
    {
        public void Report(IterationReport value) => report(value);
    }
}
