using System.CommandLine;
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
        NetG = Add("--netG", "Generator: resnet_9blocks, resnet_6blocks, unet_128, unet_256, encoder_decoder", D.NetG);
        NetD = Add("--netD", "Discriminator: basic (70x70 PatchGAN), n_layers, pixel, global", D.NetD);
        NLayersD = Add("--n-layers-D", "Discriminator conv layers (netD n_layers)", D.NLayersD);
        Ngf = Add("--ngf", "Generator filters in the last conv layer", D.Ngf);
        Ndf = Add("--ndf", "Discriminator filters in the first conv layer", D.Ndf);
        Norm = Add("--norm", "instance, batch or none", D.Norm);
        NoDropout = Add("--no-dropout", "No dropout in the generator (CycleGAN default: true; --no-dropout false enables it)", D.NoDropout);
        Upsample = Add("--upsample", "Generator upsampling: convtranspose (the reference) or resize (nearest x2 + 3x3 conv, no checkerboard)", D.Upsample);
        InitType = Add("--init-type", "normal, xavier, kaiming or orthogonal", D.InitType);
        InitGain = Add("--init-gain", "Scale for normal, xavier and orthogonal init", D.InitGain);
        InputNc = Add("--input-nc", "Channels of domain A images (1 or 3)", D.InputNc);
        OutputNc = Add("--output-nc", "Channels of domain B images (1 or 3)", D.OutputNc);
        CropSize = Add("--crop-size", "Training image size (crop after loading)", D.CropSize);
        BatchSize = Add("--batch-size", "Images per batch", D.BatchSize);
        GanMode = Add("--gan-mode", "lsgan, vanilla or wgangp (gradient penalty weight --lambda-gp)", D.GanMode);
        Objective = Add("--objective", "full, gan-only, cycle-only, gan-forward-cycle, gan-backward-cycle (the paper's ablations)", D.Objective);
        LambdaA = Add("--lambda-A", "Weight of the cycle loss A -> B -> A", D.LambdaA);
        LambdaB = Add("--lambda-B", "Weight of the cycle loss B -> A -> B", D.LambdaB);
        LambdaIdentity = Add("--lambda-identity", "Identity loss weight, relative to the cycle weights (0 = off)", D.LambdaIdentity);
        PoolSize = Add("--pool-size", "Generated images kept for the discriminators (0 = none)", D.PoolSize);
        Lr = Add("--lr", "Initial Adam learning rate", D.Lr);
        Beta1 = Add("--beta1", "Adam momentum term", D.Beta1);
        Device = Add("--device", "auto, cpu, cuda or cuda:N", D.Device);
        Seed = Add("--seed", "Seed for weights, data order and every random draw", D.Seed);
        Threads = Add("--threads", "Torch CPU threads (0 = all cores)", D.Threads);
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

    public Option<T> Add<T>(string name, string description, T defaultValue)
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        _all.Add(option);
        return option;
    }
}
