using System.CommandLine;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Torch.Training;

namespace CycleGanEdge.Trainer.Commands;

/// <summary>
/// The command-line options of a training run (names as the reference's, dashed) and how they fill
/// <see cref="TrainOptions"/>. Defaults come from TrainOptions, so there is one place for them; an option the
/// user did not give takes the default of the chosen --model (<see cref="TrainOptions.Defaults"/>), so
/// --model fastcut alone is the reference's FastCUT.
/// </summary>
public sealed class TrainOptionSet
{
    private static readonly TrainOptions D = new();
    private readonly List<Option> _all = [];

    // Networks and objective: shared by train and bench.
    public Option<string> Model { get; }
    public Option<string> NetG { get; }
    public Option<string> NetD { get; }
    public Option<int> NLayersD { get; }
    public Option<int> Ngf { get; }
    public Option<int> Ndf { get; }
    public Option<string> Norm { get; }
    public Option<bool> NoDropout { get; }
    public Option<string> Upsample { get; }
    public Option<bool> Antialias { get; }
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
    public Option<string> NceLayers { get; }
    public Option<int> NumPatches { get; }
    public Option<double> NceT { get; }
    public Option<int> NetFNc { get; }
    public Option<double> LambdaNce { get; }
    public Option<double> LambdaGan { get; }
    public Option<bool> NceIdt { get; }
    public Option<bool> FlipEquivariance { get; }

    public TrainOptionSet()
    {
        Model = Choice("--model", "cyclegan, or cut / fastcut (Contrastive Unpaired Translation, Park et al. 2020: one generator; " +
            "options not given take that model's reference defaults: init xavier, pool 0, cut 200+200 epochs, fastcut 150+50)", D.Model, TranslationModels.Names);
        NetG = Choice("--netG", "Generator architecture", D.NetG, Networks.GeneratorArchs);
        NetD = Choice("--netD", "Discriminator: basic (70x70 PatchGAN), n_layers, pixel, global", D.NetD, Networks.DiscriminatorArchs);
        NLayersD = Add("--n-layers-D", "Discriminator conv layers (netD n_layers)", D.NLayersD).AtLeast(1);
        Ngf = Add("--ngf", "Generator filters in the last conv layer", D.Ngf).AtLeast(1);
        Ndf = Add("--ndf", "Discriminator filters in the first conv layer", D.Ndf).AtLeast(1);
        Norm = Choice("--norm", "Normalisation layers", D.Norm, Networks.Norms);
        NoDropout = Add("--no-dropout", "No dropout in the generator (CycleGAN default: true; --no-dropout false enables it)", D.NoDropout);
        Upsample = Choice("--upsample", "Generator upsampling: convtranspose (the reference) or resize (nearest x2 + 3x3 conv, no checkerboard)", D.Upsample, Networks.Upsamplings);
        Antialias = Add("--antialias", "Anti-aliased sampling in resnet generators and PatchGANs: blur after stride-1 convs, blur-upsample before convs (the CUT reference's default; cut/fastcut: true)", D.Antialias);
        InitType = Choice("--init-type", "Weight initialisation (cut/fastcut default: xavier)", D.InitType, Networks.InitTypes);
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
        PoolSize = Add("--pool-size", "Generated images kept for the discriminators (0 = none; cut/fastcut: always 0)", D.PoolSize).AtLeast(0);
        Lr = Add("--lr", "Initial Adam learning rate", D.Lr).Above(0);
        Beta1 = Add("--beta1", "Adam momentum term", D.Beta1).Above(0, orEqual: true);
        Device = Add("--device", "auto, cpu, cuda or cuda:N", D.Device);
        Seed = Add("--seed", "Seed for weights, data order and every random draw", D.Seed);
        Threads = Add("--threads", "Torch CPU threads (0 = all cores)", D.Threads).AtLeast(0);
        NceLayers = Add("--nce-layers", "cut/fastcut: indices of the resnet generator's layers whose outputs feed PatchNCE", D.NceLayers);
        NceLayers.Validators.Add(r =>
        {
            if (TrainOptions.ParseLayers(r.GetValueOrDefault<string>()) is null)
                r.AddError($"--nce-layers '{r.GetValueOrDefault<string>()}' must be ascending layer indices separated by commas, like 0,4,8,12,16");
        });
        NumPatches = Add("--num-patches", "cut/fastcut: patches sampled per layer for PatchNCE", D.NumPatches).AtLeast(1);
        NceT = Add("--nce-T", "cut/fastcut: PatchNCE temperature", D.NceT).Above(0);
        NetFNc = Add("--netF-nc", "cut/fastcut: width of the MLP heads (F) that project the patch features", D.NetFNc).AtLeast(1);
        LambdaNce = Add("--lambda-NCE", "cut/fastcut: PatchNCE weight (cut: 1, fastcut: 10)", D.LambdaNce).Above(0, orEqual: true);
        LambdaGan = Add("--lambda-GAN", "cut/fastcut: GAN loss weight", D.LambdaGan).Above(0, orEqual: true);
        NceIdt = Add("--nce-idt", "cut/fastcut: identity PatchNCE term on G(B), B (cut: true, fastcut: false)", D.NceIdt);
        FlipEquivariance = Add("--flip-equivariance", "cut/fastcut: mirror inputs at random and G's features back before PatchNCE (cut: false, fastcut: true)", D.FlipEquivariance);
        OneDnn = Add("--onednn", "oneDNN CPU kernels (default: on, ~2.5x faster; --onednn false uses libtorch's own, slower kernels)", D.OneDnn);
    }

    public IReadOnlyList<Option> All => _all;

    public TrainOptions Read(ParseResult p)
    {
        var m = ModelDefaults(p);
        return new()
        {
            Model = m.Model,
            NetG = Value(p, NetG, m.NetG),
            NetD = Value(p, NetD, m.NetD),
            NLayersD = Value(p, NLayersD, m.NLayersD),
            Ngf = Value(p, Ngf, m.Ngf),
            Ndf = Value(p, Ndf, m.Ndf),
            Norm = Value(p, Norm, m.Norm),
            NoDropout = Value(p, NoDropout, m.NoDropout),
            Upsample = Value(p, Upsample, m.Upsample),
            Antialias = Value(p, Antialias, m.Antialias),
            InitType = Value(p, InitType, m.InitType),
            InitGain = Value(p, InitGain, m.InitGain),
            InputNc = Value(p, InputNc, m.InputNc),
            OutputNc = Value(p, OutputNc, m.OutputNc),
            CropSize = Value(p, CropSize, m.CropSize),
            LoadSize = Math.Max(D.LoadSize, Value(p, CropSize, m.CropSize)),
            BatchSize = Value(p, BatchSize, m.BatchSize),
            GanMode = Value(p, GanMode, m.GanMode),
            Objective = Value(p, Objective, m.Objective),
            LambdaA = Value(p, LambdaA, m.LambdaA),
            LambdaB = Value(p, LambdaB, m.LambdaB),
            LambdaIdentity = Value(p, LambdaIdentity, m.LambdaIdentity),
            PoolSize = Value(p, PoolSize, m.PoolSize),
            Lr = Value(p, Lr, m.Lr),
            Beta1 = Value(p, Beta1, m.Beta1),
            Device = Value(p, Device, m.Device),
            Seed = Value(p, Seed, m.Seed),
            Threads = Value(p, Threads, m.Threads),
            OneDnn = Value(p, OneDnn, m.OneDnn),
            NceLayers = Value(p, NceLayers, m.NceLayers),
            NumPatches = Value(p, NumPatches, m.NumPatches),
            NceT = Value(p, NceT, m.NceT),
            NetFNc = Value(p, NetFNc, m.NetFNc),
            LambdaNce = Value(p, LambdaNce, m.LambdaNce),
            LambdaGan = Value(p, LambdaGan, m.LambdaGan),
            NceIdt = Value(p, NceIdt, m.NceIdt),
            FlipEquivariance = Value(p, FlipEquivariance, m.FlipEquivariance),
            NEpochs = m.NEpochs,
            NEpochsDecay = m.NEpochsDecay,
        };
    }

    /// <summary>The defaults of the --model given (CycleGAN's when none is).</summary>
    public TrainOptions ModelDefaults(ParseResult p) => TrainOptions.Defaults(p.GetValue(Model)!);

    /// <summary>The value given on the command line, else <paramref name="modelDefault"/>.</summary>
    public static T Value<T>(ParseResult p, Option<T> option, T modelDefault) =>
        p.GetResult(option) is { Implicit: false } ? p.GetValue(option)! : modelDefault;

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
