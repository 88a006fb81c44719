using System.Diagnostics;
using System.Globalization;
using System.Text;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Evaluation;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>A problem the user can fix (bad option, missing folder, mismatched resume); the message says what.</summary>
public sealed class TrainingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One finished iteration, for progress displays.</summary>
public sealed record IterationReport(
    int Epoch, int LastEpoch, int EpochIter, int BatchesPerEpoch, long TotalIters, double Lr, StepLosses Losses, double SecondsPerIter);

public enum TrainingOutcome { Completed, Cancelled, NonFiniteLoss }

public sealed record TrainingResult(TrainingOutcome Outcome, TrainingPosition Position, string Message);

/// <summary>
/// The reference train.py for CycleGAN, CUT and FastCUT: epochs epoch_count .. n_epochs + n_epochs_decay, one
/// <see cref="ITranslationModel.Step"/> per batch, lr stepped at the end of every epoch, checkpoints
/// every --save-latest-freq iterations and at each epoch end, <c>&lt;epoch&gt;_net_*</c> every --save-epoch-freq.
/// </summary>
public sealed class TrainingRun
{
    private readonly TrainOptions _o;
    private readonly TextWriter _log;
    private readonly IProgress<IterationReport>? _progress;

    public TrainingRun(TrainOptions options, TextWriter log, IProgress<IterationReport>? progress = null)
    {
        _o = options;
        _log = log;
        _progress = progress;
    }

    public string RunDirectory => _o.RunDirectory;

    /// <summary>
    /// Trains until the last epoch, cancellation (the latest state is saved first, so
    /// --continue-train picks up at the same iteration) or a non-finite loss (nothing is saved:
    /// the files on disk stay those of the last good checkpoint).
    /// </summary>
    public TrainingResult Run(CancellationToken ct = default)
    {
        var errors = _o.Validate();
        if (errors.Count > 0) throw new TrainingException(string.Join(Environment.NewLine, errors));
        var device = Devices.Resolve(_o.Device);
        torch.set_num_threads(_o.Threads > 0 ? _o.Threads : Environment.ProcessorCount);

        string dir = _o.RunDirectory;
        string statePath = Path.Combine(dir, TrainingState.FileName);
        bool resumeLatest = _o.ContinueTrain && _o.Epoch == "latest";
        if (resumeLatest) CheckResumable(statePath);
        Directory.CreateDirectory(dir);
        WriteOptions(dir);

        using var train = OpenDataset(_o.Phase, required: true)!;
        using var eval = _o.EvalFreq > 0 ? OpenDataset("test", required: false) : null;
        if (_o.EvalClassifier is not null && eval is null)
            throw new TrainingException($"--eval-classifier needs --eval-freq > 0 and test images in {Path.Combine(_o.DataRoot, "testA")} and testB");
        using var quality = eval is not null ? TestSetQuality.Open(_o, _o.EvalClassifier, _log) : null;
        var (domainA, domainB) = DomainNames();

        torch.manual_seed(_o.Seed);
        using var model = TranslationModels.Create(_o, device);
        var schedule = new LearningRateSchedule(_o);
        var position = new TrainingPosition(_o.EpochCount, 0, 0, 0, 0);
        if (resumeLatest)
        {
            position = TrainingState.Load(statePath, model, schedule);
            _log.WriteLine($"Resuming {dir} at epoch {position.Epoch}, iteration {position.EpochIter} of the epoch ({position.TotalIters} in total), lr {schedule.CurrentLr:G6}.");
        }
        else if (_o.ContinueTrain)
        {
            LoadEpochWeights(model, dir);
        }
        model.LearningRate = schedule.CurrentLr;

        using var outputs = new RunOutputs(dir, model.LossNames.Names, model.SampleCaption);
        outputs.Open(resumeLatest, position.TotalIters, position.Epoch);
        _log.WriteLine($"Training {_o.Name}: {train.Count} images per epoch ({train.BatchesPerEpoch} batches of {_o.BatchSize}), " +
            $"epochs {position.Epoch}..{_o.LastEpoch}, device {device}, {torch.get_num_threads()} threads." +
            (eval is null ? " No test set: no per-epoch test metrics." : ""));
        var idle = LearningRateSchedule.EpochsAtZeroLr(_o, position.Epoch);
        if (idle.Count > 0)
            _log.WriteLine($"note: epoch{(idle.Count > 1 ? "s" : "")} {string.Join(", ", idle)} of {_o.LastEpoch} train at lr 0 " +
                $"(--lr-policy {_o.LrPolicy}; the reference's linear rule always gives the last epoch lr 0), so their iterations change no weights. " +
                (idle.Count == _o.LastEpoch - position.Epoch + 1 ? "Nothing in this run will train: add epochs with --n-epochs or --n-epochs-decay." : $"The weights are final after epoch {idle[0] - 1}."));

        void SaveLatest(TrainingPosition at)
        {
            outputs.Flush();
            SaveNetworks(model, "latest", at.Epoch, domainA, domainB);
            TrainingState.Save(statePath, model, schedule, at, _o);
        }

        var clock = Stopwatch.StartNew();
        long itersThisRun = 0;
        for (int epoch = position.Epoch; epoch <= _o.LastEpoch; epoch++)
        {
            int epochIter = epoch == position.Epoch ? position.EpochIter : 0;
            double lossSum = epoch == position.Epoch ? position.EpochLossSum : 0;
            long lossCount = epoch == position.Epoch ? position.EpochLossCount : 0;
            long totalIters = position.TotalIters;
            model.LearningRate = schedule.CurrentLr;
            UnalignedBatch? lastBatch = null;
            int skip = epochIter;
            // Cancellation is checked between steps (not inside the data loader) so a stop always lands on a step boundary.
            foreach (var batch in train.Epoch(epoch))
            {
                // Resuming mid-epoch: the epoch's order is fixed by (seed, epoch), so skipping
                // the batches already trained lands on the same next batch.
                if (skip > 0) { skip--; continue; }
                lastBatch = batch;
                StepLosses losses;
                using (var scope = NewDisposeScope())
                {
                    var (realA, realB) = ToTensors(batch, device);
                    torch.manual_seed(TrainingRandom.Derive(_o.Seed, epoch, epochIter, TrainingRandom.TorchPurpose));
                    var random = TrainingRandom.For(_o.Seed, epoch, epochIter, TrainingRandom.PoolPurpose);
                    bool updateG = totalIters % _o.DSteps == _o.DSteps - 1;
                    losses = model.Step(realA, realB, random, updateG);
                }
                string? bad = losses.FirstNonFinite();
                if (bad is not null)
                {
                    var last = File.Exists(statePath) ? $"the last good checkpoint is {statePath}" : "no checkpoint was saved yet";
                    string message = $"Stopped: loss {bad} is {losses[bad]} at epoch {epoch}, iteration {epochIter + 1} ({totalIters + 1} in total). " +
                        $"Nothing was saved after it; {last}. Try a lower --lr, another --gan-mode, or check the data.";
                    outputs.Flush();
                    return new TrainingResult(TrainingOutcome.NonFiniteLoss, new TrainingPosition(epoch, epochIter, totalIters, lossSum, lossCount), message);
                }
                epochIter++;
                totalIters++;
                itersThisRun++;
                foreach (int k in model.LossNames.GeneratorTerms)
                    if (losses.Values[k] is double v) { lossSum += v; lossCount++; }
                outputs.AppendLosses(epoch, totalIters, epochIter, model.LearningRate, losses);
                position = new TrainingPosition(epoch, epochIter, totalIters, lossSum, lossCount);
                _progress?.Report(new IterationReport(epoch, _o.LastEpoch, epochIter, train.BatchesPerEpoch, totalIters,
                    model.LearningRate, losses, clock.Elapsed.TotalSeconds / itersThisRun));
                if (totalIters % _o.PrintFreq == 0)
                    _log.WriteLine(FormatLosses(position, model.LearningRate, losses, clock.Elapsed.TotalSeconds / itersThisRun));
                if (totalIters % _o.SaveLatestFreq == 0)
                    SaveLatest(position);
                if (ct.IsCancellationRequested) break;
            }
            if (ct.IsCancellationRequested)
            {
                SaveLatest(position);
                return new TrainingResult(TrainingOutcome.Cancelled, position,
                    $"Stopped at epoch {position.Epoch}, iteration {position.EpochIter}; saved. Continue with --continue-train.");
            }

            double? cycle = null;
            bool evaluate = eval is not null && (epoch % _o.EvalFreq == 0 || epoch == _o.LastEpoch);
            if (evaluate) cycle = Evaluate(model, eval!, quality, outputs, epoch);
            else if (lastBatch is not null) SaveSamples(model, outputs, epoch, lastBatch);

            // Plateau watches the test-set cycle L1 when there is one, else the epoch's mean generator loss.
            schedule.Step(cycle ?? (lossCount > 0 ? lossSum / lossCount : 0));
            if (epoch % _o.SaveEpochFreq == 0 || epoch == _o.LastEpoch)
                SaveNetworks(model, epoch.ToString(CultureInfo.InvariantCulture), epoch, domainA, domainB);
            position = new TrainingPosition(epoch + 1, 0, position.TotalIters, 0, 0);
            SaveLatest(position);
            outputs.Render(model.Title);
            // The schedule has stepped for the next epoch; after the last one there is none (its lr may be below 0).
            _log.WriteLine($"End of epoch {epoch} / {_o.LastEpoch}" + (epoch < _o.LastEpoch ? $": lr now {schedule.CurrentLr:G6}" : "") +
                (cycle is double c ? $", test cycle L1 {c:F4}" : "") + $", {clock.Elapsed.TotalSeconds / Math.Max(1, itersThisRun):F3} s/it");
        }
        return new TrainingResult(TrainingOutcome.Completed, position, $"Finished {_o.LastEpoch} epochs; checkpoints in {dir}.");
    }

    /// <summary>
    /// Mean per-image cycle L1 over the test set (each image once; null for models without one), the sample grids,
    /// and the translation quality when measured.
    /// </summary>
    private double? Evaluate(ITranslationModel model, UnalignedDataset eval, TestSetQuality? quality, RunOutputs outputs, int epoch)
    {
        var seenA = new HashSet<string>(StringComparer.Ordinal);
        var seenB = new HashSet<string>(StringComparer.Ordinal);
        double sumA = 0, sumB = 0;
        var samplesA = new List<Tensor>();
        var samplesB = new List<Tensor>();
        try
        {
            foreach (var batch in eval.Epoch(1))
            {
                using var scope = NewDisposeScope();
                var (realA, realB) = ToTensors(batch, model.Device);
                var errors = model.EvalErrors(realA, realB);
                for (int i = 0; i < batch.Count; i++)
                {
                    if (seenA.Add(batch.PathsA[i])) sumA += errors?.A[i] ?? double.NaN;
                    if (seenB.Add(batch.PathsB[i])) sumB += errors?.B[i] ?? double.NaN;
                    if (samplesA.Count < _o.SampleCount)
                    {
                        samplesA.Add(realA.narrow(0, i, 1).clone().DetachFromDisposeScope());
                        samplesB.Add(realB.narrow(0, i, 1).clone().DetachFromDisposeScope());
                    }
                }
            }
            using (var scope = NewDisposeScope())
            {
                var (rowsA, rowsB) = model.Translate(cat(samplesA, 0), cat(samplesB, 0));
                outputs.SaveSamples(epoch, rowsA, rowsB);
            }
        }
        finally
        {
            foreach (var t in samplesA.Concat(samplesB)) t.Dispose();
        }
        double cycleA = sumA / Math.Max(1, seenA.Count), cycleB = sumB / Math.Max(1, seenB.Count);
        var measured = quality?.Measure(model);
        if (measured is not null)
            _log.WriteLine($"Epoch {epoch} test quality: " + string.Join(", ", new[]
            {
                measured.PsnrAtoB is double p ? $"A->B PSNR {p:F2} dB SSIM {measured.SsimAtoB:F4}" +
                    (measured.PsnrBtoA is double q ? $", B->A PSNR {q:F2} dB SSIM {measured.SsimBtoA:F4}" : "") + $" ({measured.Pairs} pairs)" : null,
                measured.ClassifiedAtoB is double c ? $"classified as target: A->B {c:P1}" + (measured.ClassifiedBtoA is double d ? $", B->A {d:P1}" : "") : null,
            }.Where(x => x is not null)));
        outputs.AppendMetrics(new EpochMetrics(epoch, cycleA, cycleB, seenA.Count, seenB.Count, measured));
        double cycle = (cycleA + cycleB) / 2;
        return double.IsNaN(cycle) ? null : cycle;
    }

    /// <summary>Without a test set the grid shows the epoch's last training batch.</summary>
    private void SaveSamples(ITranslationModel model, RunOutputs outputs, int epoch, UnalignedBatch batch)
    {
        using var scope = NewDisposeScope();
        int n = Math.Min(batch.Count, _o.SampleCount);
        var (realA, realB) = ToTensors(batch, model.Device);
        var (rowsA, rowsB) = model.Translate(realA.narrow(0, 0, n), realB.narrow(0, 0, n));
        outputs.SaveSamples(epoch, rowsA, rowsB);
    }

    private static (Tensor A, Tensor B) ToTensors(UnalignedBatch batch, Device device) =>
        (tensor(batch.A, [batch.Count, batch.ChannelsA, batch.Height, batch.Width]).to(device),
         tensor(batch.B, [batch.Count, batch.ChannelsB, batch.Height, batch.Width]).to(device));

    private void SaveNetworks(ITranslationModel model, string prefix, int epoch, string domainA, string domainB)
    {
        string dir = _o.RunDirectory;
        // "model" says which method trained the networks (the exporter writes it into the ONNX metadata).
        var extra = new Dictionary<string, string> { ["run"] = _o.Name, ["model"] = _o.Model, ["gan_mode"] = _o.GanMode, ["objective"] = _o.Objective };
        // What the images went through before the network; the exporter writes it into the model's metadata.
        TrainingPreprocessing.AddTo(extra, TrainingPreprocessing.Of(_o.DataRoot, _o.Preprocess, _o.LoadSize));
        var run = new CheckpointHeader { TrainSize = _o.CropSize, Epoch = epoch, Extra = extra };
        foreach (var (name, header) in model.CheckpointHeaders(run, domainA, domainB))
        {
            var module = model.Networks.First(n => n.Name == name).Module;
            CheckpointFile.SaveModule(Path.Combine(dir, $"{prefix}_net_{name}{CheckpointFile.Extension}"), header, module);
        }
    }

    /// <summary>--continue-train --epoch N: the reference loads N_net_* weights only (fresh optimizers and pools).</summary>
    private void LoadEpochWeights(ITranslationModel model, string dir)
    {
        foreach (var (name, module) in model.Networks)
        {
            string path = Path.Combine(dir, $"{_o.Epoch}_net_{name}{CheckpointFile.Extension}");
            if (!File.Exists(path)) throw new TrainingException($"{path}: not found (--continue-train --epoch {_o.Epoch})");
            try { CheckpointFile.LoadInto(path, module); }
            catch (InvalidDataException e) { throw new TrainingException(e.Message, e); }
        }
        _log.WriteLine($"Loaded epoch {_o.Epoch} weights; optimizers and pools start fresh, epochs count from {_o.EpochCount} (as the reference).");
    }

    /// <summary>The network and data options of a resumed run must be those it was started with.</summary>
    private void CheckResumable(string statePath)
    {
        if (!File.Exists(statePath))
            throw new TrainingException($"{statePath}: not found; --continue-train needs a run that saved at least once (drop --continue-train to start fresh)");
        TrainOptions saved;
        try { saved = TrainingState.ReadOptions(statePath); }
        catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException)
        {
            throw new TrainingException($"{statePath}: cannot resume ({e.Message})", e);
        }
        var mismatches = new List<string>();
        foreach (var (option, property) in TrainOptions.FixedOnResume)
        {
            object? was = property.GetValue(saved), now = property.GetValue(_o);
            if (!Equals(was, now)) mismatches.Add($"{option} was {was}, now {now}");
        }
        if (mismatches.Count > 0)
            throw new TrainingException($"{statePath}: the run was started with other options: {string.Join("; ", mismatches)}");
    }

    private void WriteOptions(string dir)
    {
        AtomicFile.WriteAllBytes(Path.Combine(dir, "opt.txt"), Encoding.UTF8.GetBytes(_o.ToText()));
        AtomicFile.WriteAllBytes(Path.Combine(dir, "opt.json"), Encoding.UTF8.GetBytes(_o.ToJson()));
    }

    private UnalignedDataset? OpenDataset(string phase, bool required)
    {
        if (!required && !(Directory.Exists(Path.Combine(_o.DataRoot, phase + "A")) && Directory.Exists(Path.Combine(_o.DataRoot, phase + "B"))))
            return null;
        var options = new DataOptions
        {
            DataRoot = _o.DataRoot,
            Phase = phase,
            Preprocess = _o.Preprocess,
            LoadSize = _o.LoadSize,
            CropSize = _o.CropSize,
            NoFlip = _o.NoFlip || !required,
            SerialBatches = _o.SerialBatches || !required,
            MaxDatasetSize = required ? _o.MaxDatasetSize : Math.Min(_o.MaxDatasetSize, _o.EvalImages),
            InputNc = _o.InputNc,
            OutputNc = _o.OutputNc,
            BatchSize = _o.BatchSize,
            Seed = _o.Seed,
            Workers = Math.Max(1, _o.Workers),
        };
        try
        {
            var dataset = new UnalignedDataset(options, _log);
            if (dataset.PathsA.Count == 0 || dataset.PathsB.Count == 0)
            {
                dataset.Dispose();
                if (!required) return null;
                throw new TrainingException($"{_o.DataRoot}: {phase}A and {phase}B must both hold images");
            }
            return dataset;
        }
        catch (DatasetException e)
        {
            if (!required) { _log.WriteLine($"No evaluation: {e.Message}"); return null; }
            throw new TrainingException(e.Message, e);
        }
    }

    private (string A, string B) DomainNames() => DomainNames(_o.DataRoot, _o.DomainA, _o.DomainB);

    /// <summary>The given names, else "horse" and "zebra" from a data root named horse2zebra, else A and B.</summary>
    public static (string A, string B) DomainNames(string dataRoot, string? domainA, string? domainB)
    {
        string root = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataRoot)));
        var parts = root.Split('2');
        bool named = parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0;
        return (domainA ?? (named ? parts[0] : "A"), domainB ?? (named ? parts[1] : "B"));
    }

    private static string FormatLosses(TrainingPosition p, double lr, StepLosses losses, double secondsPerIter)
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"(epoch: {p.Epoch}, iters: {p.EpochIter}, total: {p.TotalIters}, time: {secondsPerIter:F3}, lr: {lr:G4}) ");
        for (int i = 0; i < losses.Names.Count; i++)
            if (losses.Values[i] is double v) text.Append(CultureInfo.InvariantCulture, $"{losses.Names[i]}: {v:F3} ");
        return text.ToString().TrimEnd();
    }
}
