using CycleGanEdge.Torch.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// What <see cref="TrainingRun"/>, <see cref="TrainingState"/> and the bench need from a model
/// (<see cref="CycleGanModel"/>, <see cref="CutModel"/>): its networks, optimizers and pools by the names
/// the reference gives their files and state keys, what each network's checkpoint says it is, the run's title,
/// one training step, and eval-mode translations.
/// </summary>
public interface ITranslationModel : IDisposable
{
    Device Device { get; }

    /// <summary>The A -> B generator (exported, measured on the test set).</summary>
    nn.Module<Tensor, Tensor> Generator { get; }

    /// <summary>The B -> A generator, or null for one-way models.</summary>
    nn.Module<Tensor, Tensor>? GeneratorBtoA { get; }

    /// <summary>Every network, named as its latest_net_&lt;name&gt; file.</summary>
    IReadOnlyList<(string Name, nn.Module Module)> Networks { get; }

    /// <summary>
    /// The header of each network's file, by the names of <see cref="Networks"/>: <paramref name="run"/> (what every file
    /// of the run records: epoch, training size, extra facts) with what the network is and which domains it reads and writes.
    /// </summary>
    IReadOnlyList<(string Name, CheckpointHeader Header)> CheckpointHeaders(CheckpointHeader run, string domainA, string domainB);

    /// <summary>The run's title on its web page: name, method and the options that tell runs apart.</summary>
    string Title { get; }

    /// <summary>Every optimizer, named as its state keys (optimizer_G ...).</summary>
    IReadOnlyList<(string Name, Adam Optimizer)> Optimizers { get; }

    /// <summary>Every image pool, named as its state keys (pool_fake_A ...); empty when the model keeps none.</summary>
    IReadOnlyList<(string Name, ImagePool Pool)> Pools { get; }

    /// <summary>The columns of <see cref="StepLosses"/> this model fills, and which of them are generator terms.</summary>
    LossNames LossNames { get; }

    double LearningRate { get; set; }

    /// <summary>One iteration on a batch; <paramref name="random"/> drives every non-torch draw (pools, patch sampling, flips).</summary>
    StepLosses Step(Tensor realA, Tensor realB, Random random, bool updateGenerators = true);

    /// <summary>Per-image test error for metrics.csv (CycleGAN: cycle L1 of both domains), or null when the model has none.</summary>
    (double[] A, double[] B)? EvalErrors(Tensor realA, Tensor realB);

    /// <summary>Sample rows for each domain, RGB on the CPU, in [-1, 1] (eval mode), and what their columns show.</summary>
    (Tensor RowsA, Tensor RowsB) Translate(Tensor realA, Tensor realB);

    string SampleCaption { get; }
}

/// <summary>Loss column names of a model, and the indices whose mean is the epoch's generator loss (lr plateau without a test set).</summary>
public sealed record LossNames(IReadOnlyList<string> Names, IReadOnlyList<int> GeneratorTerms);

/// <summary>The models train --model chooses from.</summary>
public static class TranslationModels
{
    public const string CycleGan = "cyclegan", Cut = "cut", FastCut = "fastcut";

    public static IReadOnlyList<string> Names { get; } = [CycleGan, Cut, FastCut];

    public static ITranslationModel Create(TrainOptions options, Device device)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Model == CycleGan ? new CycleGanModel(options, device) : new CutModel(options, device);
    }

    /// <summary>Grey and colour images side by side in the sample grids: a single channel is repeated to three.</summary>
    internal static Tensor Rgb(Tensor image) =>
        image.shape[1] == 3 ? image : image.expand(image.shape[0], 3, image.shape[2], image.shape[3]);

    /// <summary>Freezes a discriminator while the generators step, as the reference's set_requires_grad.</summary>
    internal static void SetRequiresGrad(nn.Module module, bool requiresGrad)
    {
        foreach (var p in module.parameters()) p.requires_grad = requiresGrad;
    }
}
