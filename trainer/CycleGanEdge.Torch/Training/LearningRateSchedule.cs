namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The reference's get_scheduler (models/networks.py):
/// linear = LambdaLR keeping lr for n_epochs then decaying linearly over n_epochs_decay (+1),
/// step = StepLR(lr_decay_iters, 0.1), cosine = CosineAnnealingLR(T_max = n_epochs),
/// plateau = ReduceLROnPlateau(min, factor 0.2, threshold 0.01 relative, patience 5).
/// The reference's train.py calls model.update_learning_rate() (one scheduler step) at the start of
/// every epoch, the first included, so epoch k of a run trains with the lr after k steps: the first
/// epoch already has one step, and with the default linear policy the last epoch trains at lr 0.
/// Here <see cref="Step"/> is called at the end of each epoch, so <see cref="CurrentLr"/> is always one
/// step ahead of <see cref="Steps"/>. Plateau is the exception: it needs the finished epoch's metric
/// (the reference feeds it a constant 0), so its first cut comes from real measurements.
/// The state is a few numbers so a resumed run continues the same sequence.
/// </summary>
public sealed class LearningRateSchedule
{
    private readonly TrainOptions _options;

    public LearningRateSchedule(TrainOptions options)
    {
        _options = options;
        CurrentLr = Evaluate(1);
    }

    /// <summary>Epochs finished in this run (PyTorch's last_epoch is one more, except for plateau).</summary>
    public int Steps { get; private set; }
    public double CurrentLr { get; private set; }
    public double PlateauBest { get; private set; } = double.PositiveInfinity;
    public int PlateauBadEpochs { get; private set; }

    /// <summary>End of an epoch. <paramref name="metric"/> is what plateau watches (lower is better).</summary>
    public void Step(double metric)
    {
        Steps++;
        if (_options.LrPolicy != "plateau")
        {
            CurrentLr = Evaluate(Steps + 1);
            return;
        }
        const double factor = 0.2, threshold = 0.01, eps = 1e-8;
        const int patience = 5;
        if (metric < PlateauBest * (1 - threshold))
        {
            PlateauBest = metric;
            PlateauBadEpochs = 0;
        }
        else
        {
            PlateauBadEpochs++;
        }
        if (PlateauBadEpochs > patience)
        {
            double reduced = CurrentLr * factor;
            if (CurrentLr - reduced > eps) CurrentLr = reduced;
            PlateauBadEpochs = 0;
        }
    }

    public double[] SaveState() => [Steps, CurrentLr, PlateauBest, PlateauBadEpochs];

    public void LoadState(double[] state)
    {
        if (state.Length != 4) throw new InvalidDataException("learning-rate schedule state has the wrong length");
        Steps = (int)state[0];
        CurrentLr = state[1];
        PlateauBest = state[2];
        PlateauBadEpochs = (int)state[3];
    }

    /// <summary>
    /// Epochs from <paramref name="fromEpoch"/> on that train at lr 0 (plateau never does). Under the reference's linear
    /// rule the last epoch always does, so the whole of a one-epoch run does: worth saying before hours are spent.
    /// </summary>
    public static IReadOnlyList<int> EpochsAtZeroLr(TrainOptions options, int fromEpoch)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.LrPolicy == "plateau") return [];
        return [.. Enumerable.Range(fromEpoch, Math.Max(0, options.LastEpoch - fromEpoch + 1))
            .Where(epoch => Evaluate(options, epoch - options.EpochCount + 1) <= 0)];
    }

    private double Evaluate(int steps) => Evaluate(_options, steps);

    /// <summary>The lr after <paramref name="steps"/> scheduler steps (not used for plateau).</summary>
    private static double Evaluate(TrainOptions _options, int steps)
    {
        double lr0 = _options.Lr;
        return _options.LrPolicy switch
        {
            "linear" => lr0 * (1.0 - Math.Max(0, steps + _options.EpochCount - _options.NEpochs) / (double)(_options.NEpochsDecay + 1)),
            "step" => lr0 * Math.Pow(0.1, steps / _options.LrDecayIters),
            "cosine" => _options.NEpochs == 0 ? lr0 : lr0 * (1 + Math.Cos(Math.PI * steps / _options.NEpochs)) / 2,
            "plateau" => lr0,
            _ => throw new ArgumentException($"unknown lr policy '{_options.LrPolicy}'"),
        };
    }
}
