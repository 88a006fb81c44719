using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Training;

/// <summary>The reference's GANLoss and cal_gradient_penalty (models/networks.py).</summary>
public static class GanLoss
{
    /// <summary>
    /// lsgan: mean squared distance to 1 (real) or 0 (fake); vanilla: binary cross-entropy on logits;
    /// wgangp: -mean (real) or +mean (fake) of the critic's scores.
    /// </summary>
    public static Tensor Of(Tensor prediction, bool targetIsReal, string ganMode) => ganMode switch
    {
        "lsgan" => F.mse_loss(prediction, targetIsReal ? ones_like(prediction) : zeros_like(prediction)),
        "vanilla" => F.binary_cross_entropy_with_logits(prediction, targetIsReal ? ones_like(prediction) : zeros_like(prediction)),
        "wgangp" => targetIsReal ? -prediction.mean() : prediction.mean(),
        _ => throw new ArgumentException($"unknown gan mode '{ganMode}'"),
    };

    /// <summary>
    /// WGAN-GP penalty on random interpolates between real and fake ("mixed"):
    /// lambda * mean((||dD/dx||_2 - 1)^2). The fake batch may come from the image pool, so it is
    /// an older generator's output; the penalty only needs points between the two distributions.
    /// Draws (one alpha per sample) come from torch's generator, which the trainer seeds per step.
    /// </summary>
    public static Tensor GradientPenalty(nn.Module<Tensor, Tensor> discriminator, Tensor real, Tensor fake, double lambda)
    {
        long n = real.shape[0];
        using var alpha = rand(new long[] { n, 1, 1, 1 }, device: real.device).expand_as(real);
        using var interpolates = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(true);
        var scores = discriminator.forward(interpolates);
        var gradients = autograd.grad([scores], [interpolates], [ones_like(scores)], retain_graph: true, create_graph: true)[0];
        var norms = (gradients.reshape(n, -1) + 1e-16).norm(1, p: 2);
        return (norms - 1).pow(2).mean() * lambda;
    }
}
