namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The reference's get_scheduler (models/networks.py), stepped once at the end of every epoch:
/// linear = LambdaLR keeping lr for n_epochs then decaying linearly over n_epochs_decay (+1),
/// step = StepLR(lr_decay_iters, 0.1), cosine = CosineAnnealingLR(T_max = n_epochs),
/// plateau = ReduceLROnPlateau(min, factor 0.2, threshold 0.01 relative, patience 5).
/// The state is a few numbers so a resumed run continues the same sequence.
/// </summary>
public sealed class LearningRateSchedule
{
    private readonly TrainOptions _options;

    public LearningRateSchedule(TrainOptions options)
    {
        _options = options;
        CurrentLr = Evaluate(0);
    }

    /// <summary>Scheduler steps taken so far (PyTorch's last_epoch).</summary>
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
            CurrentLr = Evaluate(Steps);
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

    private double Evaluate(int steps)
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
