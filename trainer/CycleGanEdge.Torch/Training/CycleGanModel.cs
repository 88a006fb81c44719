using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;
using TorchSharp;
using static TorchSharp.torch;
using static CycleGanEdge.Torch.Training.TranslationModels;
using F = TorchSharp.torch.nn.functional;

namespace CycleGanEdge.Torch.Training;

/// <summary>Loss values of one step, in <see cref="Names"/> order; null where a term is off or was not computed.</summary>
public sealed class StepLosses(IReadOnlyList<string> names)
{
    /// <summary>CycleGAN's columns (the reference's loss_names).</summary>
    public static readonly string[] CycleGanNames = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"];
    public const int DA = 0, GA = 1, CycleA = 2, IdtA = 3, DB = 4, GB = 5, CycleB = 6, IdtB = 7;

    public StepLosses() : this(CycleGanNames) { }

    public IReadOnlyList<string> Names { get; } = names;

    public double?[] Values { get; } = new double?[names.Count];

    public double? this[string name] => Values[IndexOf(name)];

    private int IndexOf(string name)
    {
        for (int i = 0; i < Names.Count; i++)
            if (Names[i] == name) return i;
        return -1;
    }

    /// <summary>The name of the first loss that is NaN or infinite, or null when all are finite.</summary>
    public string? FirstNonFinite()
    {
        for (int i = 0; i < Values.Length; i++)
            if (Values[i] is double v && !double.IsFinite(v)) return Names[i];
        return null;
    }
}

/// <summary>
/// The reference's CycleGANModel (models/cycle_gan_model.py). Naming as there:
/// G_A: A->B, G_B: B->A, D_A judges B-domain images, D_B judges A-domain images.
/// One optimizer over both generators, one over both discriminators.
/// </summary>
public sealed class CycleGanModel : ITranslationModel
{
    private readonly TrainOptions _o;

    public CycleGanModel(TrainOptions options, Device device)
    {
        _o = options;
        Device = device;
        if (device.type == DeviceType.CPU) TorchSetup.ConfigureCpu(options.OneDnn);
        GA = NetworkFactory.CreateGenerator(options.GeneratorA);
        GB = NetworkFactory.CreateGenerator(options.GeneratorB);
        DA = NetworkFactory.CreateDiscriminator(options.DiscriminatorA);
        DB = NetworkFactory.CreateDiscriminator(options.DiscriminatorB);
        foreach (var net in Networks)
        {
            NetworkFactory.InitWeights(net.Module, options.InitType, options.InitGain);
            if (device.type == DeviceType.CPU && TorchSetup.OneDnnEnabled) NarrowConvolutionPadding.Apply(net.Module);
            net.Module.to(device);
            net.Module.train();
        }
        OptimizerG = new Adam(GA.parameters().Concat(GB.parameters()), options.Lr, options.Beta1);
        OptimizerD = new Adam(DA.parameters().Concat(DB.parameters()), options.Lr, options.Beta1);
        PoolFakeA = new ImagePool(options.PoolSize);
        PoolFakeB = new ImagePool(options.PoolSize);
    }

    public Device Device { get; }
    public nn.Module<Tensor, Tensor> GA { get; }
    public nn.Module<Tensor, Tensor> GB { get; }
    public nn.Module<Tensor, Tensor> DA { get; }
    public nn.Module<Tensor, Tensor> DB { get; }
    public Adam OptimizerG { get; }
    public Adam OptimizerD { get; }
    public ImagePool PoolFakeA { get; }
    public ImagePool PoolFakeB { get; }

    /// <summary>The four networks with the names the reference gives their files (latest_net_G_A ...).</summary>
    public IReadOnlyList<(string Name, nn.Module Module)> Networks => [("G_A", GA), ("G_B", GB), ("D_A", DA), ("D_B", DB)];

    public IReadOnlyList<(string Name, CheckpointHeader Header)> CheckpointHeaders(CheckpointHeader run, string domainA, string domainB) =>
    [
        ("G_A", run with { Kind = CheckpointKinds.Generator, Generator = _o.GeneratorA, Direction = "AtoB", DomainIn = domainA, DomainOut = domainB }),
        ("G_B", run with { Kind = CheckpointKinds.Generator, Generator = _o.GeneratorB, Direction = "BtoA", DomainIn = domainB, DomainOut = domainA }),
        // D_A judges B images, D_B judges A images.
        ("D_A", run with { Kind = CheckpointKinds.Discriminator, Discriminator = _o.DiscriminatorA, DomainIn = domainB }),
        ("D_B", run with { Kind = CheckpointKinds.Discriminator, Discriminator = _o.DiscriminatorB, DomainIn = domainA }),
    ];

    public string Title => $"{_o.Name}: CycleGAN {_o.NetG}/{_o.NetD}, {_o.GanMode}, {_o.Objective}";

    public nn.Module<Tensor, Tensor> Generator => GA;
    public nn.Module<Tensor, Tensor>? GeneratorBtoA => GB;
    public IReadOnlyList<(string Name, Adam Optimizer)> Optimizers => [("optimizer_G", OptimizerG), ("optimizer_D", OptimizerD)];
    public IReadOnlyList<(string Name, ImagePool Pool)> Pools => [("pool_fake_A", PoolFakeA), ("pool_fake_B", PoolFakeB)];

    public static readonly LossNames Losses = new(StepLosses.CycleGanNames,
        [StepLosses.GA, StepLosses.GB, StepLosses.CycleA, StepLosses.CycleB, StepLosses.IdtA, StepLosses.IdtB]);

    public LossNames LossNames => Losses;

    public string SampleCaption => "Each row: real | translated | reconstructed (A rows: G_A then G_B; B rows: G_B then G_A).";

    public (double[] A, double[] B)? EvalErrors(Tensor realA, Tensor realB) => CycleErrors(realA, realB);

    public double LearningRate
    {
        get => OptimizerG.LearningRate;
        set { OptimizerG.LearningRate = value; OptimizerD.LearningRate = value; }
    }

    /// <summary>
    /// One training iteration on a batch: G step (unless <paramref name="updateGenerators"/> is false,
    /// which is how --d-steps k gives k discriminator updates per generator update) then D step.
    /// <paramref name="random"/> drives the image pools; torch's generator (dropout, WGAN-GP alphas)
    /// must have been seeded by the caller.
    /// </summary>
    public StepLosses Step(Tensor realA, Tensor realB, Random random, bool updateGenerators = true)
    {
        using var scope = NewDisposeScope();
        var losses = new StepLosses();
        var v = losses.Values;

        Tensor fakeA, fakeB;
        if (updateGenerators)
        {
            SetRequiresGrad(DA, false);
            SetRequiresGrad(DB, false);
            GA.zero_grad();
            GB.zero_grad();
            fakeB = GA.forward(realA);
            fakeA = GB.forward(realB);
            var lossG = zeros(1, device: Device).sum();
            if (_o.UsesIdentity)
            {
                // G_A should be the identity on B images, G_B on A images.
                var lossIdtA = F.l1_loss(GA.forward(realB), realB) * (_o.LambdaB * _o.LambdaIdentity);
                var lossIdtB = F.l1_loss(GB.forward(realA), realA) * (_o.LambdaA * _o.LambdaIdentity);
                lossG = lossG + lossIdtA + lossIdtB;
                v[StepLosses.IdtA] = lossIdtA.item<float>();
                v[StepLosses.IdtB] = lossIdtB.item<float>();
            }
            if (_o.UsesGan)
            {
                var lossGA = GanLoss.Of(DA.forward(fakeB), true, _o.GanMode);
                var lossGB = GanLoss.Of(DB.forward(fakeA), true, _o.GanMode);
                lossG = lossG + lossGA + lossGB;
                v[StepLosses.GA] = lossGA.item<float>();
                v[StepLosses.GB] = lossGB.item<float>();
            }
            if (_o.UsesForwardCycle)
            {
                var lossCycleA = F.l1_loss(GB.forward(fakeB), realA) * _o.LambdaA;
                lossG = lossG + lossCycleA;
                v[StepLosses.CycleA] = lossCycleA.item<float>();
            }
            if (_o.UsesBackwardCycle)
            {
                var lossCycleB = F.l1_loss(GA.forward(fakeA), realB) * _o.LambdaB;
                lossG = lossG + lossCycleB;
                v[StepLosses.CycleB] = lossCycleB.item<float>();
            }
            lossG.backward();
            OptimizerG.Step();
            SetRequiresGrad(DA, true);
            SetRequiresGrad(DB, true);
        }
        else
        {
            using var noGrad = no_grad();
            fakeB = GA.forward(realA);
            fakeA = GB.forward(realB);
        }

        if (_o.UsesGan)
        {
            DA.zero_grad();
            DB.zero_grad();
            var lossDA = DiscriminatorLoss(DA, realB, PoolFakeB.Query(fakeB, random));
            lossDA.backward();
            var lossDB = DiscriminatorLoss(DB, realA, PoolFakeA.Query(fakeA, random));
            lossDB.backward();
            OptimizerD.Step();
            v[StepLosses.DA] = lossDA.item<float>();
            v[StepLosses.DB] = lossDB.item<float>();
        }
        return losses;
    }

    /// <summary>Mean |G_B(G_A(a)) - a| and |G_A(G_B(b)) - b| per image (eval mode, no gradients).</summary>
    public (double[] CycleA, double[] CycleB) CycleErrors(Tensor realA, Tensor realB)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        SetTraining(false);
        try
        {
            var errA = (GB.forward(GA.forward(realA)) - realA).abs().flatten(1).mean([1L]);
            var errB = (GA.forward(GB.forward(realB)) - realB).abs().flatten(1).mean([1L]);
            return (errA.to(CPU).data<float>().Select(v => (double)v).ToArray(), errB.to(CPU).data<float>().Select(v => (double)v).ToArray());
        }
        finally
        {
            SetTraining(true);
        }
    }

    /// <summary>real | G(real) | G'(G(real)) side by side for each domain, RGB on the CPU, in [-1, 1] (eval mode).</summary>
    public (Tensor RowsA, Tensor RowsB) Translate(Tensor realA, Tensor realB)
    {
        using var noGrad = no_grad();
        SetTraining(false);
        try
        {
            var fakeB = GA.forward(realA);
            var fakeA = GB.forward(realB);
            return (cat([Rgb(realA), Rgb(fakeB), Rgb(GB.forward(fakeB))], 3).cpu(), cat([Rgb(realB), Rgb(fakeA), Rgb(GA.forward(fakeA))], 3).cpu());
        }
        finally
        {
            SetTraining(true);
        }
    }

    private Tensor DiscriminatorLoss(nn.Module<Tensor, Tensor> d, Tensor real, Tensor fake)
    {
        var loss = (GanLoss.Of(d.forward(real), true, _o.GanMode) + GanLoss.Of(d.forward(fake.detach()), false, _o.GanMode)) * 0.5;
        if (_o.GanMode == "wgangp")
            loss = loss + GanLoss.GradientPenalty(d, real, fake, _o.LambdaGp);
        return loss;
    }

    private void SetTraining(bool training)
    {
        foreach (var (_, module) in Networks) module.train(training);
    }

    public void Dispose()
    {
        foreach (var (_, module) in Networks) module.Dispose();
        OptimizerG.Dispose();
        OptimizerD.Dispose();
        PoolFakeA.Dispose();
        PoolFakeB.Dispose();
    }
}
