using System.Globalization;
using CycleGanEdge.Torch.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>Where a run stands: the next batch to train is batch <see cref="EpochIter"/> of <see cref="Epoch"/>.</summary>
public sealed record TrainingPosition(int Epoch, int EpochIter, long TotalIters, double EpochLossSum, long EpochLossCount);

/// <summary>
/// latest_state.ckpt: one atomic file with everything a resumed run needs — every network,
/// every optimizer's moments and step counts, the image pools, the lr schedule and the position.
/// Keeping it in one file means a kill during saving leaves either the old or the new state, never a mix.
/// Random draws are derived from (seed, epoch, iteration), so no generator state needs saving.
/// </summary>
public static class TrainingState
{
    public const string Kind = "training-state";
    public const string FileName = "latest_state" + CheckpointFile.Extension;
    /// <summary>The state before the latest one, kept in case the latest file is damaged later (disk errors, copies).</summary>
    public const string PreviousFileName = "previous_state" + CheckpointFile.Extension;

    public static void Save(string path, ITranslationModel model, LearningRateSchedule schedule, TrainingPosition position, TrainOptions options)
    {
        // No dispose scope here: on the CPU .cpu() hands back the live tensor itself, and a scope
        // would then free the weights, moments and pool images still in use (seen as NaN a step later).
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, module) in model.Networks)
            foreach (var (key, tensor) in module.state_dict())
                tensors[$"net_{name}.{key}"] = tensor;
        foreach (var (name, optimizer) in model.Optimizers) AddOptimizer(tensors, name, optimizer);
        foreach (var (name, pool) in model.Pools) AddList(tensors, name, pool.Images);

        var extra = new Dictionary<string, string>
        {
            ["epoch_iter"] = Invariant(position.EpochIter),
            ["total_iters"] = Invariant(position.TotalIters),
            ["epoch_loss_sum"] = Invariant(position.EpochLossSum),
            ["epoch_loss_count"] = Invariant(position.EpochLossCount),
            ["lr_schedule"] = string.Join(' ', schedule.SaveState().Select(v => Invariant(v))),
            ["options"] = options.ToJson(),
        };
        foreach (var (name, optimizer) in model.Optimizers) extra[$"{name}.step"] = Invariant(optimizer.StepCount);
        foreach (var (name, pool) in model.Pools) extra[$"{name}.count"] = Invariant(pool.Count);
        var header = new CheckpointHeader { Kind = Kind, Epoch = position.Epoch, TrainSize = options.CropSize, Extra = extra };
        CheckpointFile.Save(path, header, tensors, beforeReplace: KeepPrevious);
    }

    /// <summary>Copies the state about to be replaced to previous_state.ckpt (atomically, so it is whole or absent).</summary>
    private static void KeepPrevious(string latest)
    {
        if (!File.Exists(latest)) return;
        string previous = Path.Combine(Path.GetDirectoryName(latest)!, PreviousFileName);
        string temp = previous + ".tmp";
        try
        {
            File.Copy(latest, temp, overwrite: true);
            File.Move(temp, previous, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Loads a state file; when it is damaged, the error says whether previous_state.ckpt is intact and how to resume from it.
    /// </summary>
    private static (CheckpointHeader Header, Dictionary<string, Tensor> Tensors) LoadChecked(string path)
    {
        try
        {
            return CheckpointFile.Load(path);
        }
        catch (InvalidDataException e)
        {
            string previous = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, PreviousFileName);
            if (Path.GetFileName(path) == PreviousFileName || !File.Exists(previous))
                throw;
            string hint;
            try
            {
                var (header, tensors) = CheckpointFile.Load(previous);
                foreach (var t in tensors.Values) t.Dispose();
                string iter = header.Extra.GetValueOrDefault("epoch_iter", "?");
                hint = $"The previous state {previous} (epoch {header.Epoch}, iteration {iter} of the epoch) is intact: " +
                       $"to continue from it, run: mv '{previous}' '{path}' and start again with --continue-train.";
            }
            catch (InvalidDataException)
            {
                hint = $"The previous state {previous} is damaged too: start again without --continue-train.";
            }
            throw new InvalidDataException($"{e.Message}. {hint}", e);
        }
    }

    /// <summary>Restores everything into <paramref name="model"/> and <paramref name="schedule"/>; returns where to continue.</summary>
    public static TrainingPosition Load(string path, ITranslationModel model, LearningRateSchedule schedule)
    {
        var (header, tensors) = LoadChecked(path);
        try
        {
            if (header.Kind != Kind)
                throw new InvalidDataException($"{path}: holds a '{header.Kind}' checkpoint, not a training state");
            string Get(string key) => header.Extra.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: training state lacks '{key}'");
            using (no_grad())
            {
                foreach (var (name, module) in model.Networks)
                {
                    string prefix = $"net_{name}.";
                    var own = module.state_dict();
                    foreach (var (key, target) in own)
                    {
                        if (!tensors.TryGetValue(prefix + key, out var saved))
                            throw new InvalidDataException($"{path}: no weights for {name}.{key} (was the run started with other network options?)");
                        if (!saved.shape.SequenceEqual(target.shape))
                            throw new InvalidDataException($"{path}: {name}.{key} has shape [{string.Join(",", saved.shape)}], the network needs [{string.Join(",", target.shape)}]");
                        target.copy_(saved);
                    }
                }
            }
            foreach (var (name, optimizer) in model.Optimizers)
                LoadOptimizer(path, tensors, name, optimizer, long.Parse(Get($"{name}.step"), CultureInfo.InvariantCulture));
            foreach (var (name, pool) in model.Pools)
                pool.Load(List(tensors, name, int.Parse(Get($"{name}.count"), CultureInfo.InvariantCulture)).Select(t => t.to(model.Device)));
            schedule.LoadState(Get("lr_schedule").Split(' ').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray());
            model.LearningRate = schedule.CurrentLr;
            return new TrainingPosition(
                header.Epoch,
                int.Parse(Get("epoch_iter"), CultureInfo.InvariantCulture),
                long.Parse(Get("total_iters"), CultureInfo.InvariantCulture),
                double.Parse(Get("epoch_loss_sum"), CultureInfo.InvariantCulture),
                long.Parse(Get("epoch_loss_count"), CultureInfo.InvariantCulture));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>The options a state was written with (to check a resumed run matches).</summary>
    public static TrainOptions ReadOptions(string path)
    {
        var (header, tensors) = LoadChecked(path);
        foreach (var t in tensors.Values) t.Dispose();
        return header.Extra.TryGetValue("options", out var json)
            ? TrainOptions.FromJson(json)
            : throw new InvalidDataException($"{path}: training state lacks its options");
    }

    private static void AddOptimizer(Dictionary<string, Tensor> tensors, string name, Adam optimizer)
    {
        AddList(tensors, name + ".exp_avg", optimizer.ExpAvg);
        AddList(tensors, name + ".exp_avg_sq", optimizer.ExpAvgSq);
    }

    private static void LoadOptimizer(string path, Dictionary<string, Tensor> tensors, string name, Adam optimizer, long step)
    {
        int count = optimizer.ExpAvg.Count;
        try
        {
            optimizer.Load(step, List(tensors, name + ".exp_avg", count), List(tensors, name + ".exp_avg_sq", count));
        }
        catch (Exception e) when (e is InvalidDataException or KeyNotFoundException or ArgumentException or System.Runtime.InteropServices.ExternalException)
        {
            throw new InvalidDataException($"{path}: {name} state does not fit the networks ({e.Message})", e);
        }
    }

    private static void AddList(Dictionary<string, Tensor> tensors, string name, IReadOnlyList<Tensor> list)
    {
        for (int i = 0; i < list.Count; i++) tensors[$"{name}.{i}"] = list[i];
    }

    private static List<Tensor> List(Dictionary<string, Tensor> tensors, string name, int count) =>
        Enumerable.Range(0, count).Select(i => tensors[$"{name}.{i}"]).ToList();

    private static string Invariant(IFormattable value) => value.ToString(value is double ? "R" : null, CultureInfo.InvariantCulture);
}
