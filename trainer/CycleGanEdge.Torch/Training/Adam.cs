using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// Adam exactly as torch.optim.Adam (single-tensor path, no weight decay, no amsgrad), written out so
/// its moments and step count are plain tensors we save in latest_state.ckpt and restore bit for bit.
/// </summary>
public sealed class Adam : IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly Tensor[] _expAvg;
    private readonly Tensor[] _expAvgSq;
    private readonly double _beta1, _beta2, _eps;

    public Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2 = 0.999, double eps = 1e-8)
    {
        _parameters = parameters.ToArray();
        using (no_grad())
        {
            _expAvg = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
            _expAvgSq = _parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        }
        LearningRate = lr;
        _beta1 = beta1;
        _beta2 = beta2;
        _eps = eps;
    }

    public double LearningRate { get; set; }
    public long StepCount { get; private set; }
    public IReadOnlyList<Tensor> ExpAvg => _expAvg;
    public IReadOnlyList<Tensor> ExpAvgSq => _expAvgSq;

    public void Step()
    {
        StepCount++;
        double biasCorrection1 = 1 - Math.Pow(_beta1, StepCount);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(_beta2, StepCount));
        double stepSize = LearningRate / biasCorrection1;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Scalars are native objects: made once per step and disposed here, rather than one temporary
        // per parameter and operation from implicit double conversions.
        using Scalar beta1 = _beta1, oneMinusBeta1 = 1 - _beta1, beta2 = _beta2, oneMinusBeta2 = 1 - _beta2;
        using Scalar eps = _eps, negStepSize = -stepSize, bc2 = biasCorrection2Sqrt;
        for (int i = 0; i < _parameters.Length; i++)
        {
            var grad = _parameters[i].grad;
            if (grad is null) continue;
            _expAvg[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            _expAvgSq[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            var denom = _expAvgSq[i].sqrt().div_(bc2).add_(eps);
            _parameters[i].addcdiv_(_expAvg[i], denom, value: negStepSize);
        }
    }

    /// <summary>Restores moments and step count saved from an optimizer over the same parameters.</summary>
    public void Load(long stepCount, IReadOnlyList<Tensor> expAvg, IReadOnlyList<Tensor> expAvgSq)
    {
        if (expAvg.Count != _parameters.Length || expAvgSq.Count != _parameters.Length)
            throw new InvalidDataException($"optimizer state has {expAvg.Count} tensors, the networks have {_parameters.Length} parameters");
        using var _ = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            _expAvg[i].copy_(expAvg[i]);
            _expAvgSq[i].copy_(expAvgSq[i]);
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq)) t.Dispose();
    }
}
