using System.CommandLine;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>
/// The command-line options of a training run (names as the reference's, dashed) and how they fill
/// <see cref="TrainOptions"/>. Defaults come from TrainOptions, so there is one place for them.
/// </summary>
public sealed class TrainOptionSet
{
    private static readonly TrainOptions D = new();
    private readonly List<Option> _all = [];

    // Networks and objective: shared by train and bench.
    public Option<string> NetG { get; }
    public Option<string> NetD { get; }
    public Option<int> NLayersD { get; }
    public Option<int> Ngf { get; }
    public Option<int> Ndf { get; }
    public Option<string> Norm { get; }
    public Option<bool> NoDropout { get; }
    public Option<string> Upsample { get; }
    public Option<string> InitType { get; }
    public Option<double> InitGain { get; }
    public Option<int> InputNc { get; }
    public Option<int> OutputNc { get; }
    public Option<int> CropSize { get; }
    public Option<int> BatchSize { get; }
    public Option<string> GanMode { get; }
    public Option<string> Objective { get; }
    public Option<double> LambdaA { get; }
    public Option<double> LambdaB { get; }
    public Option<double> LambdaIdentity { get; }
    public Option<int> PoolSize { get; }
    public Option<double> Lr { get; }
    public Option<double> Beta1 { get; }
    public Option<string> Device { get; }
    public Option<int> Seed { get; }
    public Option<int> Threads { get; }
    public Option<bool> OneDnn { get; }

    public TrainOptionSet()
    {
        NetG = Choice("--netG", "Generator architecture", D.NetG, Networks.GeneratorArchs);
        NetD = Choice("--netD", "Discriminator: basic (70x70 PatchGAN), n_layers, pixel, global", D.NetD, Networks.DiscriminatorArchs);
        NLayersD = Add("--n-layers-D", "Discriminator conv layers (netD n_layers)", D.NLayersD).AtLeast(1);
        Ngf = Add("--ngf", "Generator filters in the last conv layer", D.Ngf).AtLeast(1);
        Ndf = Add("--ndf", "Discriminator filters in the first conv layer", D.Ndf).AtLeast(1);
        Norm = Choice("--norm", "Normalisation layers", D.Norm, Networks.Norms);
        NoDropout = Add("--no-dropout", "No dropout in the generator (CycleGAN default: true; --no-dropout false enables it)", D.NoDropout);
        Upsample = Choice("--upsample", "Generator upsampling: convtranspose (the reference) or resize (nearest x2 + 3x3 conv, no checkerboard)", D.Upsample, Networks.Upsamplings);
        InitType = Choice("--init-type", "Weight initialisation", D.InitType, Networks.InitTypes);
        InitGain = Add("--init-gain", "Scale for normal, xavier and orthogonal init", D.InitGain).Above(0);
        InputNc = Add("--input-nc", "Channels of domain A images (1 or 3)", D.InputNc);
        OutputNc = Add("--output-nc", "Channels of domain B images (1 or 3)", D.OutputNc);
        CropSize = Add("--crop-size", "Training image size (crop after loading)", D.CropSize).AtLeast(4);
        BatchSize = Add("--batch-size", "Images per batch", D.BatchSize).AtLeast(1);
        GanMode = Choice("--gan-mode", "GAN objective (wgangp: gradient penalty weight --lambda-gp)", D.GanMode, TrainOptions.GanModes);
        Objective = Choice("--objective", "Loss terms (the paper's ablations)", D.Objective, TrainOptions.Objectives);
        LambdaA = Add("--lambda-A", "Weight of the cycle loss A -> B -> A", D.LambdaA).Above(0, orEqual: true);
        LambdaB = Add("--lambda-B", "Weight of the cycle loss B -> A -> B", D.LambdaB).Above(0, orEqual: true);
        LambdaIdentity = Add("--lambda-identity", "Identity loss weight, relative to the cycle weights (0 = off)", D.LambdaIdentity).Above(0, orEqual: true);
        PoolSize = Add("--pool-size", "Generated images kept for the discriminators (0 = none)", D.PoolSize).AtLeast(0);
        Lr = Add("--lr", "Initial Adam learning rate", D.Lr).Above(0);
        Beta1 = Add("--beta1", "Adam momentum term", D.Beta1).Above(0, orEqual: true);
        Device = Add("--device", "auto, cpu, cuda or cuda:N", D.Device);
        Seed = Add("--seed", "Seed for weights, data order and every random draw", D.Seed);
        Threads = Add("--threads", "Torch CPU threads (0 = all cores)", D.Threads).AtLeast(0);
        OneDnn = Add("--onednn", "oneDNN CPU kernels (default: on, ~2.5x faster; --onednn false uses libtorch's own, slower kernels)", D.OneDnn);
    }

    public IReadOnlyList<Option> All => _all;

    public TrainOptions Read(ParseResult p) => new()
    {
        NetG = p.GetValue(NetG)!,
        NetD = p.GetValue(NetD)!,
        NLayersD = p.GetValue(NLayersD),
        Ngf = p.GetValue(Ngf),
        Ndf = p.GetValue(Ndf),
        Norm = p.GetValue(Norm)!,
        NoDropout = p.GetValue(NoDropout),
        Upsample = p.GetValue(Upsample)!,
        InitType = p.GetValue(InitType)!,
        InitGain = p.GetValue(InitGain),
        InputNc = p.GetValue(InputNc),
        OutputNc = p.GetValue(OutputNc),
        CropSize = p.GetValue(CropSize),
        LoadSize = Math.Max(D.LoadSize, p.GetValue(CropSize)),
        BatchSize = p.GetValue(BatchSize),
        GanMode = p.GetValue(GanMode)!,
        Objective = p.GetValue(Objective)!,
        LambdaA = p.GetValue(LambdaA),
        LambdaB = p.GetValue(LambdaB),
        LambdaIdentity = p.GetValue(LambdaIdentity),
        PoolSize = p.GetValue(PoolSize),
        Lr = p.GetValue(Lr),
        Beta1 = p.GetValue(Beta1),
        Device = p.GetValue(Device)!,
        Seed = p.GetValue(Seed),
        Threads = p.GetValue(Threads),
        OneDnn = p.GetValue(OneDnn),
    };

    /// <summary>A string option whose values the parser checks and --help lists.</summary>
    public Option<string> Choice(string name, string description, string defaultValue, IReadOnlyList<string> choices)
    {
        var option = Add(name, description, defaultValue);
        option.HelpName = string.Join('|', choices);
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (value is null || !choices.Contains(value))
                r.AddError($"{name} '{value}' is not one of: {string.Join(", ", choices)}");
        });
        return option;
    }

    public Option<T> Add<T>(string name, string description, T defaultValue)
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        _all.Add(option);
        return option;
    }
}
