using System.Globalization;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;
using static CycleGanEdge.Torch.Training.TranslationModels;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The reference's CUTModel (taesungp/contrastive-unpaired-translation, models/cut_model.py) for CUT and FastCUT:
/// one generator G (A -> B), one discriminator D (judges B images), the patch head F (<see cref="PatchSampleF"/>),
/// each with its own Adam. Per step, as there: G runs once on A (and on B when the identity NCE term is on,
/// concatenated in one batch), possibly mirrored for flip equivariance; then the D step; then the G and F step
/// on lambda_GAN * GAN(G(A)) + lambda_NCE * PatchNCE(G(A), A) (averaged with PatchNCE(G(B), B) when on).
/// </summary>
public sealed class CutModel : ITranslationModel
{
    public const int GGan = 0, DReal = 1, DFake = 2, GTotal = 3, Nce = 4, NceY = 5;

    /// <summary>The reference's loss_names; the plateau schedule watches G (the total generator loss).</summary>
    public static readonly LossNames Losses = new(["G_GAN", "D_real", "D_fake", "G", "NCE", "NCE_Y"], [GTotal]);

    private readonly TrainOptions _o;
    private readonly int[] _layers;

    public CutModel(TrainOptions options, Device device)
    {
        ArgumentNullException.ThrowIfNull(options);
        _o = options;
        Device = device;
        _layers = options.NceLayerList;
        if (device.type == DeviceType.CPU) TorchSetup.ConfigureCpu(options.OneDnn);
        G = NetworkFactory.CreateGenerator(options.GeneratorA) as ResnetGenerator
            ?? throw new TrainingException($"--model {options.Model} needs a resnet generator (--netG resnet_9blocks or resnet_6blocks), not {options.NetG}");
        D = NetworkFactory.CreateDiscriminator(options.DiscriminatorA);
        NetworkFactory.InitWeights(G, options.InitType, options.InitGain);
        NetworkFactory.InitWeights(D, options.InitType, options.InitGain);
        // The reference sizes F's MLPs from the first batch's features; only their channel counts matter.
        int[] channels;
        using (no_grad())
        using (var scope = NewDisposeScope())
            channels = G.Encode(zeros(1, options.InputNc, 16, 16), _layers).Select(f => (int)f.shape[1]).ToArray();
        F = new PatchSampleF(channels, options.NetFNc);
        NetworkFactory.InitWeights(F, options.InitType, options.InitGain);
        foreach (var (_, net) in Networks)
        {
            if (device.type == DeviceType.CPU && TorchSetup.OneDnnEnabled) NarrowConvolutionPadding.Apply(net);
            net.to(device);
            net.train();
        }
        OptimizerG = new Adam(G.parameters(), options.Lr, options.Beta1);
        OptimizerD = new Adam(D.parameters(), options.Lr, options.Beta1);
        OptimizerF = new Adam(F.parameters(), options.Lr, options.Beta1);
    }

    public Device Device { get; }
    public ResnetGenerator G { get; }
    public nn.Module<Tensor, Tensor> D { get; }
    public PatchSampleF F { get; }
    public Adam OptimizerG { get; }
    public Adam OptimizerD { get; }
    public Adam OptimizerF { get; }

    public nn.Module<Tensor, Tensor> Generator => G;
    public nn.Module<Tensor, Tensor>? GeneratorBtoA => null;
    public IReadOnlyList<(string Name, nn.Module Module)> Networks => [("G", G), ("D", D), ("F", F)];

    public IReadOnlyList<(string Name, CheckpointHeader Header)> CheckpointHeaders(CheckpointHeader run, string domainA, string domainB) =>
    [
        ("G", run with { Kind = CheckpointKinds.Generator, Generator = _o.GeneratorA, Direction = "AtoB", DomainIn = domainA, DomainOut = domainB }),
        ("D", run with { Kind = CheckpointKinds.Discriminator, Discriminator = _o.DiscriminatorA, DomainIn = domainB }),
        ("F", run with { Kind = CheckpointKinds.PatchHead }),
    ];

    public string Title =>
        $"{_o.Name}: {(_o.Model == TranslationModels.FastCut ? "FastCUT" : "CUT")} {_o.NetG}/{_o.NetD}, {_o.GanMode}, lambda_NCE {_o.LambdaNce.ToString(CultureInfo.InvariantCulture)}";
    public IReadOnlyList<(string Name, Adam Optimizer)> Optimizers => [("optimizer_G", OptimizerG), ("optimizer_D", OptimizerD), ("optimizer_F", OptimizerF)];
    public IReadOnlyList<(string Name, ImagePool Pool)> Pools => [];
    public LossNames LossNames => Losses;
    public string SampleCaption => "Each row: real | translated by G (A rows: A -> B; B rows: G on a B image, which should change little).";

    public double LearningRate
    {
        get => OptimizerG.LearningRate;
        set { OptimizerG.LearningRate = value; OptimizerD.LearningRate = value; OptimizerF.LearningRate = value; }
    }

    public StepLosses Step(Tensor realA, Tensor realB, Random random, bool updateGenerators = true)
    {
        ArgumentNullException.ThrowIfNull(realA);
        ArgumentNullException.ThrowIfNull(realB);
        ArgumentNullException.ThrowIfNull(random);
        using var scope = NewDisposeScope();
        var losses = new StepLosses(Losses.Names);
        var v = losses.Values;
        long nA = realA.shape[0];
        var real = _o.NceIdt ? cat([realA, realB], 0) : realA;
        bool flipped = _o.FlipEquivariance && random.NextDouble() < 0.5;
        if (flipped) real = real.flip(3);
        Tensor fake;
        using (updateGenerators ? null : no_grad())
            fake = G.forward(real);
        var fakeB = fake.narrow(0, 0, nA);

        SetRequiresGrad(D, true);
        D.zero_grad();
        var lossDFake = GanLoss.Of(D.forward(fakeB.detach()), false, _o.GanMode);
        var lossDReal = GanLoss.Of(D.forward(realB), true, _o.GanMode);
        var lossD = (lossDFake + lossDReal) * 0.5;
        if (_o.GanMode == "wgangp")
            lossD = lossD + GanLoss.GradientPenalty(D, realB, fakeB, _o.LambdaGp);
        lossD.backward();
        OptimizerD.Step();
        v[DFake] = lossDFake.item<float>();
        v[DReal] = lossDReal.item<float>();
        if (!updateGenerators) return losses;

        SetRequiresGrad(D, false);
        G.zero_grad();
        F.zero_grad();
        var lossG = zeros(1, device: Device).sum();
        if (_o.LambdaGan > 0)
        {
            var lossGan = GanLoss.Of(D.forward(fakeB), true, _o.GanMode) * _o.LambdaGan;
            lossG = lossG + lossGan;
            v[GGan] = lossGan.item<float>();
        }
        if (_o.LambdaNce > 0)
        {
            var lossNce = NceLoss(realA, fakeB, flipped, random);
            v[Nce] = lossNce.item<float>();
            if (_o.NceIdt)
            {
                var lossNceY = NceLoss(realB, fake.narrow(0, nA, realB.shape[0]), flipped, random);
                v[NceY] = lossNceY.item<float>();
                lossNce = (lossNce + lossNceY) * 0.5;
            }
            lossG = lossG + lossNce;
        }
        lossG.backward();
        OptimizerG.Step();
        OptimizerF.Step();
        SetRequiresGrad(D, true);
        v[GTotal] = lossG.item<float>();
        return losses;
    }

    /// <summary>
    /// The reference's calculate_NCE_loss: features of G's encoder on the output (queries; mirrored back when the
    /// input was mirrored) and on the input (keys), the same patch positions for both, lambda_NCE * the mean
    /// PatchNCE loss averaged over the layers.
    /// </summary>
    public Tensor NceLoss(Tensor source, Tensor target, bool flipped, Random random)
    {
        var featQ = G.Encode(target, _layers);
        if (flipped) featQ = featQ.Select(f => f.flip(3)).ToList();
        var featK = G.Encode(source, _layers);
        var (poolK, ids) = F.Sample(featK, _o.NumPatches, null, random);
        var (poolQ, _) = F.Sample(featQ, _o.NumPatches, ids, null);
        return PatchNceLoss.Total(poolQ, poolK, source.shape[0], _o.NceT, _o.LambdaNce);
    }

    /// <summary>CUT has no way back, so no cycle error; the test set gives PSNR/SSIM and classifier rates only.</summary>
    public (double[] A, double[] B)? EvalErrors(Tensor realA, Tensor realB) => null;

    public (Tensor RowsA, Tensor RowsB) Translate(Tensor realA, Tensor realB)
    {
        using var noGrad = no_grad();
        G.eval();
        try
        {
            return (cat([Rgb(realA), Rgb(G.forward(realA))], 3).cpu(), cat([Rgb(realB), Rgb(G.forward(realB))], 3).cpu());
        }
        finally
        {
            G.train();
        }
    }

    public void Dispose()
    {
        foreach (var (_, module) in Networks) module.Dispose();
        OptimizerG.Dispose();
        OptimizerD.Dispose();
        OptimizerF.Dispose();
    }
}
