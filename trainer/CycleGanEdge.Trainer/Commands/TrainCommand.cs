using CycleGanEdge.Core.CommandLine;
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
        var dataRoot = new Option<DirectoryInfo>("--dataroot") { Description = "Folder with trainA/trainB (and testA/testB for the per-epoch cycle L1)", Required = true };
        dataRoot.AcceptExistingOnly();
        // Null only while the parser validates a command line without it (--help, or the missing-option error).
        set.Bind(dataRoot, (o, v) => o with { DataRoot = v?.FullName ?? o.DataRoot });
        TrainOptionSet.Rule(set.Add("--name", "Run name: outputs go to <checkpoints-dir>/<name>", o => o.Name, (o, v) => o with { Name = v }),
            TrainOptions.IsValidRunName, v => $"'{v}' is not a valid folder name");
        set.Add("--checkpoints-dir", "Where run folders are made", o => o.CheckpointsDir, (o, v) => o with { CheckpointsDir = v });
        TrainOptionSet.Rule(set.Add("--phase", "Training subfolders are <phase>A and <phase>B", o => o.Phase, (o, v) => o with { Phase = v }),
            v => !string.IsNullOrWhiteSpace(v), _ => "cannot be empty");
        set.Choice("--preprocess", "How images become --crop-size squares", o => o.Preprocess, (o, v) => o with { Preprocess = v }, DataOptions.PreprocessModes);
        set.Add("--load-size", "Scale images to this size, then crop to --crop-size", o => o.LoadSize, (o, v) => o with { LoadSize = v }).AtLeast(1);
        set.Add("--no-flip", "Do not flip images horizontally for augmentation", o => o.NoFlip, (o, v) => o with { NoFlip = v });
        set.Add("--serial-batches", "Take images in order instead of shuffled", o => o.SerialBatches, (o, v) => o with { SerialBatches = v });
        set.Add("--max-dataset-size", "Use at most this many images per domain", o => o.MaxDatasetSize, (o, v) => o with { MaxDatasetSize = v }).AtLeast(1);
        set.Add("--workers", "Data loading threads", o => o.Workers, (o, v) => o with { Workers = v }).AtLeast(1);
        set.Add("--domain-a", "Name of domain A written into the checkpoints (default: from a data root named a2b, else A)", o => o.DomainA, (o, v) => o with { DomainA = v });
        set.Add("--domain-b", "Name of domain B written into the checkpoints (default: from a data root named a2b, else B)", o => o.DomainB, (o, v) => o with { DomainB = v });
        set.Add("--lambda-gp", "WGAN-GP gradient penalty weight (--gan-mode wgangp)", o => o.LambdaGp, (o, v) => o with { LambdaGp = v }).Above(0, orEqual: true);
        set.Add("--d-steps", "Discriminator updates per generator update (one batch each)", o => o.DSteps, (o, v) => o with { DSteps = v }).AtLeast(1);
        set.Add("--n-epochs", "Epochs at the initial learning rate (cut: 200, fastcut: 150)", o => o.NEpochs, (o, v) => o with { NEpochs = v }).AtLeast(0);
        set.Add("--n-epochs-decay", "Epochs over which the learning rate decays linearly to zero (cut: 200, fastcut: 50)", o => o.NEpochsDecay, (o, v) => o with { NEpochsDecay = v }).AtLeast(0);
        set.Add("--epoch-count", "Number of the first epoch (with --continue-train --epoch N)", o => o.EpochCount, (o, v) => o with { EpochCount = v }).AtLeast(1);
        set.Choice("--lr-policy", "Learning-rate schedule", o => o.LrPolicy, (o, v) => o with { LrPolicy = v }, TrainOptions.LrPolicies);
        set.Add("--lr-decay-iters", "Epochs between lr x0.1 steps (--lr-policy step)", o => o.LrDecayIters, (o, v) => o with { LrDecayIters = v }).AtLeast(1);
        set.Add("--save-epoch-freq", "Save <epoch>_net_* every this many epochs", o => o.SaveEpochFreq, (o, v) => o with { SaveEpochFreq = v }).AtLeast(1);
        set.Add("--save-latest-freq", "Save latest_* every this many iterations", o => o.SaveLatestFreq, (o, v) => o with { SaveLatestFreq = v }).AtLeast(1);
        set.Add("--print-freq", "Print losses every this many iterations", o => o.PrintFreq, (o, v) => o with { PrintFreq = v }).AtLeast(1);
        set.Add("--continue-train", "Resume the run in <checkpoints-dir>/<name>", o => o.ContinueTrain, (o, v) => o with { ContinueTrain = v });
        set.Add("--epoch", "With --continue-train: latest (full resume) or an epoch number (its weights only)", o => o.Epoch, (o, v) => o with { Epoch = v });
        set.Add("--eval-freq", "Test-set metrics (cycle L1; PSNR/SSIM against same-named testA/testB images; classifier rates) and sample grids every this many epochs (0 = off)", o => o.EvalFreq, (o, v) => o with { EvalFreq = v }).AtLeast(0);
        set.Add("--eval-images", "Test images per domain for the cycle L1", o => o.EvalImages, (o, v) => o with { EvalImages = v }).AtLeast(1);
        var evalClassifier = new Option<FileInfo>("--eval-classifier") { Description = "Domain classifier ONNX (cyclegan-train classifier): each eval reports the share of test translations classified as the target domain" };
        evalClassifier.AcceptExistingOnly();
        set.Bind(evalClassifier, (o, v) => o with { EvalClassifier = v?.FullName });
        set.Add("--sample-count", "Images per domain in each epoch's sample grid", o => o.SampleCount, (o, v) => o with { SampleCount = v }).AtLeast(1);

        var command = new Command("train", "Train a CycleGAN, CUT or FastCUT model (options and defaults as the reference trainers)") { dataRoot };
        foreach (var option in set.All) command.Options.Add(option);
        command.Options.Add(evalClassifier);
        set.AddCrossOptionRules(command, refuseIdleSchedule: true);

        command.SetAction((p, ct) =>
        {
            var options = set.Read(p);
            return Task.FromResult(Run(options, p.InvocationConfiguration.Output, p.InvocationConfiguration.Error, ct));
        });
        return command;
    }

    public static int Run(TrainOptions options, TextWriter output, TextWriter error, CancellationToken ct)
    {
        // The parser already refused these (TrainOptionSet); this guards callers that build the record themselves.
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
        catch (DeviceUnavailableException e)
        {
            // What this build cannot do is a usage error in all three programs (cyclegan-run --provider cuda too).
            error.WriteLine($"error: {e.Message}");
            return ExitCodes.Usage;
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
