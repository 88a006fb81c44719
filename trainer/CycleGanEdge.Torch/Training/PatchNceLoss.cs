using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The CUT reference's PatchNCELoss (models/patchnce.py) with nce_includes_all_negatives_from_minibatch False:
/// for each query patch of G(x), its key is the same position in x (detached) and the negatives are the other
/// sampled positions of the same image. Returns the per-patch cross-entropy, [B * patches].
/// </summary>
public static class PatchNceLoss
{
    public static Tensor Of(Tensor featQ, Tensor featK, long batchSize, double temperature)
    {
        ArgumentNullException.ThrowIfNull(featQ);
        ArgumentNullException.ThrowIfNull(featK);
        using var scope = NewDisposeScope();
        long n = featQ.shape[0], dim = featQ.shape[1];
        var k = featK.detach();
        var lPos = (featQ * k).sum(1, keepdim: true);
        var q = featQ.view(batchSize, -1, dim);
        var kb = k.view(batchSize, -1, dim);
        long patches = q.shape[1];
        // The diagonal compares a patch with itself: not a negative; exp(-10 / T) makes it vanish.
        var lNeg = bmm(q, kb.transpose(2, 1)).masked_fill(eye(patches, dtype: ScalarType.Bool, device: featQ.device).unsqueeze(0), -10.0).view(-1, patches);
        var logits = cat([lPos, lNeg], 1) / temperature;
        var target = zeros(n, dtype: ScalarType.Int64, device: featQ.device);
        return F.cross_entropy(logits, target, reduction: nn.Reduction.None).MoveToOuterDisposeScope();
    }

    /// <summary>The reference's calculate_NCE_loss total: the mean over layers of lambda_NCE * the mean PatchNCE loss.</summary>
    public static Tensor Total(IReadOnlyList<Tensor> poolQ, IReadOnlyList<Tensor> poolK, long batchSize, double temperature, double lambdaNce)
    {
        ArgumentNullException.ThrowIfNull(poolQ);
        ArgumentNullException.ThrowIfNull(poolK);
        Tensor? total = null;
        for (int k = 0; k < poolQ.Count; k++)
        {
            var layer = Of(poolQ[k], poolK[k], batchSize, temperature).mean() * lambdaNce;
            total = total is null ? layer : total + layer;
        }
        return total is null ? throw new ArgumentException("no layers", nameof(poolQ)) : total / poolQ.Count;
    }
}
