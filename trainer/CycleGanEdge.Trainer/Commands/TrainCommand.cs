using CycleGanEdge.Runtime.CommandLine;
using System.CommandLine;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Training;
using Spectre.Console;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>cyclegan-train train: the reference's train.py for CycleGAN.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var set = new TrainOptionSet();
        var d = new TrainOptions();
        var dataRoot = new Option<DirectoryInfo>("--dataroot") { Description = "Folder with trainA/trainB (and testA/testB for the per-epoch cycle L1)", Required = true };
        dataRoot.AcceptExistingOnly();
        var name = set.Add("--name", "Run name: outputs go to <checkpoints-dir>/<name>", d.Name);
        var checkpointsDir = set.Add("--checkpoints-dir", "Where run folders are made", d.CheckpointsDir);
        var phase = set.Add("--phase", "Training subfolders are <phase>A and <phase>B", d.Phase);
        var preprocess = set.Choice("--preprocess", "How images become --crop-size squares", d.Preprocess, DataOptions.PreprocessModes);
        var loadSize = set.Add("--load-size", "Scale images to this size, then crop to --crop-size", d.LoadSize);
        var noFlip = set.Add("--no-flip", "Do not flip images horizontally for augmentation", d.NoFlip);
        var serialBatches = set.Add("--serial-batches", "Take images in order instead of shuffled", d.SerialBatches);
        var maxDatasetSize = set.Add("--max-dataset-size", "Use at most this many images per domain", d.MaxDatasetSize);
        var workers = set.Add("--workers", "Data loading threads", d.Workers);
        var domainA = set.Add<string?>("--domain-a", "Name of domain A written into the checkpoints (default: from a data root named a2b, else A)", null);
        var domainB = set.Add<string?>("--domain-b", "Name of domain B written into the checkpoints (default: from a data root named a2b, else B)", null);
        var lambdaGp = set.Add("--lambda-gp", "WGAN-GP gradient penalty weight (--gan-mode wgangp)", d.LambdaGp);
        var dSteps = set.Add("--d-steps", "Discriminator updates per generator update (one batch each)", d.DSteps);
        var nEpochs = set.Add("--n-epochs", "Epochs at the initial learning rate (cut: 200, fastcut: 150)", d.NEpochs);
        var nEpochsDecay = set.Add("--n-epochs-decay", "Epochs over which the learning rate decays linearly to zero (cut: 200, fastcut: 50)", d.NEpochsDecay);
        var epochCount = set.Add("--epoch-count", "Number of the first epoch (with --continue-train --epoch N)", d.EpochCount);
        var lrPolicy = set.Choice("--lr-policy", "Learning-rate schedule", d.LrPolicy, TrainOptions.LrPolicies);
        var lrDecayIters = set.Add("--lr-decay-iters", "Epochs between lr x0.1 steps (--lr-policy step)", d.LrDecayIters);
        var saveEpochFreq = set.Add("--save-epoch-freq", "Save <epoch>_net_* every this many epochs", d.SaveEpochFreq);
        var saveLatestFreq = set.Add("--save-latest-freq", "Save latest_* every this many iterations", d.SaveLatestFreq);
        var printFreq = set.Add("--print-freq", "Print losses every this many iterations", d.PrintFreq);
        var continueTrain = set.Add("--continue-train", "Resume the run in <checkpoints-dir>/<name>", d.ContinueTrain);
        var epoch = set.Add("--epoch", "With --continue-train: latest (full resume) or an epoch number (its weights only)", d.Epoch);
        var evalFreq = set.Add("--eval-freq", "Test-set metrics (cycle L1; PSNR/SSIM against same-named testA/testB images; classifier rates) and sample grids every this many epochs (0 = off)", d.EvalFreq);
        var evalImages = set.Add("--eval-images", "Test images per domain for the cycle L1", d.EvalImages);
        var evalClassifier = new Option<FileInfo>("--eval-classifier") { Description = "Domain classifier ONNX (cyclegan-train classifier): each eval reports the share of test translations classified as the target domain" };
        evalClassifier.AcceptExistingOnly();
        var sampleCount = set.Add("--sample-count", "Images per domain in each epoch's sample grid", d.SampleCount);

        var command = new Command("train", "Train a CycleGAN, CUT or FastCUT model (options and defaults as the reference trainers)") { dataRoot };
        foreach (var option in set.All) command.Options.Add(option);
        command.Options.Add(evalClassifier);

        command.SetAction((p, ct) =>
        {
            var m = set.ModelDefaults(p);
            var options = set.Read(p) with
            {
                DataRoot = p.GetValue(dataRoot)!.FullName,
                Name = p.GetValue(name)!,
                CheckpointsDir = p.GetValue(checkpointsDir)!,
                Phase = p.GetValue(phase)!,
                Preprocess = p.GetValue(preprocess)!,
                LoadSize = p.GetValue(loadSize),
                NoFlip = p.GetValue(noFlip),
                SerialBatches = p.GetValue(serialBatches),
                MaxDatasetSize = p.GetValue(maxDatasetSize),
                Workers = p.GetValue(workers),
                DomainA = p.GetValue(domainA),
                DomainB = p.GetValue(domainB),
                LambdaGp = p.GetValue(lambdaGp),
                DSteps = p.GetValue(dSteps),
                NEpochs = TrainOptionSet.Value(p, nEpochs, m.NEpochs),
                NEpochsDecay = TrainOptionSet.Value(p, nEpochsDecay, m.NEpochsDecay),
                EpochCount = p.GetValue(epochCount),
                LrPolicy = p.GetValue(lrPolicy)!,
                LrDecayIters = p.GetValue(lrDecayIters),
                SaveEpochFreq = p.GetValue(saveEpochFreq),
                SaveLatestFreq = p.GetValue(saveLatestFreq),
                PrintFreq = p.GetValue(printFreq),
                ContinueTrain = p.GetValue(continueTrain),
                Epoch = p.GetValue(epoch)!,
                EvalFreq = p.GetValue(evalFreq),
                EvalImages = p.GetValue(evalImages),
                EvalClassifier = p.GetValue(evalClassifier)?.FullName,
                SampleCount = p.GetValue(sampleCount),
            };
            return Task.FromResult(Run(options, p.InvocationConfiguration.Output, p.InvocationConfiguration.Error, ct));
        });
        return command;
    }

    public static int Run(TrainOptions options, TextWriter output, TextWriter error, CancellationToken ct)
    {
        // The option rules TrainOptions checks are usage errors (exit 2), found before any file is touched.
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            foreach (string problem in problems) error.WriteLine($"error: {problem}");
            return ExitCodes.Usage;
        }
        try
        {
            bool interactive = !Console.IsOutputRedirected && ReferenceEquals(output, Console.Out) && AnsiConsole.Profile.Capabilities.Interactive;
            TrainingResult result = interactive ? RunWithProgressBar(options, ct) : new TrainingRun(options, output).Run(ct);
            switch (result.Outcome)
            {
                case TrainingOutcome.Completed:
                    output.WriteLine(result.Message);
                    return ExitCodes.Success;
                case TrainingOutcome.Cancelled:
                    error.WriteLine(result.Message);
                    return ExitCodes.Interrupted;
                default:
                    error.WriteLine(result.Message);
                    return ExitCodes.Diverged;
            }
        }
        catch (Exception e) when (e is TrainingException or DatasetException)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (IOException e)
        {
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>Spectre progress: one bar per epoch with it/s, ETA and the latest losses.</summary>
    private static TrainingResult RunWithProgressBar(TrainOptions options, CancellationToken ct)
    {
        TrainingResult result = null!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                int taskEpoch = -1;
                var progress = new InlineProgress<IterationReport>(r =>
                {
                    if (r.Epoch != taskEpoch)
                    {
                        task?.StopTask();
                        task = ctx.AddTask($"epoch {r.Epoch}/{r.LastEpoch}", maxValue: r.BatchesPerEpoch);
                        taskEpoch = r.Epoch;
                    }
                    task!.Value = r.EpochIter;
                    string losses = string.Join(' ', r.Losses.Names.Zip(r.Losses.Values)
                        .Where(x => x.Second is not null).Select(x => $"{x.First} {x.Second:F3}"));
                    task.Description = Markup.Escape($"epoch {r.Epoch}/{r.LastEpoch} {1 / r.SecondsPerIter:F2} it/s lr {r.Lr:G3} {losses}");
                });
                result = new TrainingRun(options, new ConsoleLineWriter(), progress).Run(ct);
                task?.StopTask();
            });
        return result;
    }

    /// <summary>Reports on the calling thread (System.Progress would post to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Log lines printed above the live progress display.</summary>
    private sealed class ConsoleLineWriter : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void WriteLine(string? value) => AnsiConsole.WriteLine(value ?? "");
        public override void Write(char value) => AnsiConsole.Write(value.ToString());
    }
}
