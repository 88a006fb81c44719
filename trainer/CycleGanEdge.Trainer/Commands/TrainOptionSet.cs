using System.CommandLine;
using System.CommandLine.Parsing;
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

    /// <summary>What each given (or model-default) option writes into the record, in option order.</summary>
    private readonly List<Func<SymbolResult, TrainOptions, TrainOptions, TrainOptions>> _setters = [];

    /// <summary>Shared by train and bench; bench passes every option but this one on to its child runs.</summary>
    public Option<string> Model { get; }

    public TrainOptionSet()
    {
        Model = Choice("--model", "cyclegan, or cut / fastcut (Contrastive Unpaired Translation, Park et al. 2020: one generator; " +
            "options not given take that model's reference defaults: init xavier, pool 0, cut 200+200 epochs, fastcut 150+50)", o => o.Model, (o, v) => o with { Model = v }, TranslationModels.Names);
        Choice("--netG", "Generator architecture", o => o.NetG, (o, v) => o with { NetG = v }, NetworkFactory.GeneratorArchs);
        Choice("--netD", "Discriminator: basic (70x70 PatchGAN), n_layers, pixel, global", o => o.NetD, (o, v) => o with { NetD = v }, NetworkFactory.DiscriminatorArchs);
        Add("--n-layers-D", "Discriminator conv layers (netD n_layers)", o => o.NLayersD, (o, v) => o with { NLayersD = v }).AtLeast(1);
        Add("--ngf", "Generator filters in the last conv layer", o => o.Ngf, (o, v) => o with { Ngf = v }).AtLeast(1);
        Add("--ndf", "Discriminator filters in the first conv layer", o => o.Ndf, (o, v) => o with { Ndf = v }).AtLeast(1);
        Choice("--norm", "Normalisation layers", o => o.Norm, (o, v) => o with { Norm = v }, NetworkFactory.Norms);
        Add("--no-dropout", "No dropout in the generator (CycleGAN default: true; --no-dropout false enables it)", o => o.NoDropout, (o, v) => o with { NoDropout = v });
        Choice("--upsample", "Generator upsampling: convtranspose (the reference) or resize (nearest x2 + 3x3 conv, no checkerboard)", o => o.Upsample, (o, v) => o with { Upsample = v }, NetworkFactory.Upsamplings);
        Add("--antialias", "Anti-aliased sampling in resnet generators and PatchGANs: blur after stride-1 convs, blur-upsample before convs (the CUT reference's default; cut/fastcut: true)", o => o.Antialias, (o, v) => o with { Antialias = v });
        Add("--residual", "Resnet generators draw a change to their input, output = clip(input + tanh(last conv), -1, 1), so what they leave alone keeps the input's pixels (not in the reference)", o => o.Residual, (o, v) => o with { Residual = v });
        Choice("--init-type", "Weight initialisation (cut/fastcut default: xavier)", o => o.InitType, (o, v) => o with { InitType = v }, NetworkFactory.InitTypes);
        Add("--init-gain", "Scale for normal, xavier and orthogonal init", o => o.InitGain, (o, v) => o with { InitGain = v }).Above(0);
        Rule(Add("--input-nc", "Channels of domain A images (1 or 3)", o => o.InputNc, (o, v) => o with { InputNc = v }), v => v is 1 or 3, v => $"must be 1 or 3, not {v}");
        Rule(Add("--output-nc", "Channels of domain B images (1 or 3)", o => o.OutputNc, (o, v) => o with { OutputNc = v }), v => v is 1 or 3, v => $"must be 1 or 3, not {v}");
        // Without a --load-size option (bench) images load at the reference's 286, or at the crop size when larger.
        Add("--crop-size", "Training image size (crop after loading)", o => o.CropSize,
            (o, v) => o with { CropSize = v, LoadSize = Math.Max(D.LoadSize, v) }).AtLeast(4);
        Add("--batch-size", "Images per batch", o => o.BatchSize, (o, v) => o with { BatchSize = v }).AtLeast(1);
        Choice("--gan-mode", "GAN objective (wgangp: gradient penalty weight --lambda-gp)", o => o.GanMode, (o, v) => o with { GanMode = v }, TrainOptions.GanModes);
        Choice("--objective", "Loss terms (the paper's ablations)", o => o.Objective, (o, v) => o with { Objective = v }, TrainOptions.Objectives);
        Add("--lambda-A", "Weight of the cycle loss A -> B -> A", o => o.LambdaA, (o, v) => o with { LambdaA = v }).Above(0, orEqual: true);
        Add("--lambda-B", "Weight of the cycle loss B -> A -> B", o => o.LambdaB, (o, v) => o with { LambdaB = v }).Above(0, orEqual: true);
        Add("--lambda-identity", "Identity loss weight, relative to the cycle weights (0 = off)", o => o.LambdaIdentity, (o, v) => o with { LambdaIdentity = v }).Above(0, orEqual: true);
        Add("--pool-size", "Generated images kept for the discriminators (0 = none; cut/fastcut: always 0)", o => o.PoolSize, (o, v) => o with { PoolSize = v }).AtLeast(0);
        Add("--lr", "Initial Adam learning rate", o => o.Lr, (o, v) => o with { Lr = v }).Above(0);
        Add("--beta1", "Adam momentum term", o => o.Beta1, (o, v) => o with { Beta1 = v }).Above(0, orEqual: true);
        // Whether this build and machine have that device is Devices.Resolve's question, asked before any work.
        Rule(Add("--device", "auto, cpu, cuda or cuda:N", o => o.Device, (o, v) => o with { Device = v }), Devices.IsValidName, v => $"'{v}' is not one of: auto, cpu, cuda, cuda:N");
        Add("--seed", "Seed for weights, data order and every random draw", o => o.Seed, (o, v) => o with { Seed = v });
        Add("--threads", "Torch CPU threads (0 = all cores)", o => o.Threads, (o, v) => o with { Threads = v }).AtLeast(0);
        var nceLayers = Add("--nce-layers", "cut/fastcut: indices of the resnet generator's layers whose outputs feed PatchNCE", o => o.NceLayers, (o, v) => o with { NceLayers = v });
        nceLayers.Validators.Add(r =>
        {
            if (TrainOptions.ParseLayers(r.GetValueOrDefault<string>()) is null)
                r.AddError($"--nce-layers '{r.GetValueOrDefault<string>()}' must be ascending layer indices separated by commas, like 0,4,8,12,16");
        });
        Add("--num-patches", "cut/fastcut: patches sampled per layer for PatchNCE", o => o.NumPatches, (o, v) => o with { NumPatches = v }).AtLeast(1);
        Add("--nce-T", "cut/fastcut: PatchNCE temperature", o => o.NceT, (o, v) => o with { NceT = v }).Above(0);
        Add("--netF-nc", "cut/fastcut: width of the MLP heads (F) that project the patch features", o => o.NetFNc, (o, v) => o with { NetFNc = v }).AtLeast(1);
        Add("--lambda-NCE", "cut/fastcut: PatchNCE weight (cut: 1, fastcut: 10)", o => o.LambdaNce, (o, v) => o with { LambdaNce = v }).Above(0, orEqual: true);
        Add("--lambda-GAN", "cut/fastcut: GAN loss weight", o => o.LambdaGan, (o, v) => o with { LambdaGan = v }).Above(0, orEqual: true);
        Add("--nce-idt", "cut/fastcut: identity PatchNCE term on G(B), B (cut: true, fastcut: false)", o => o.NceIdt, (o, v) => o with { NceIdt = v });
        Add("--flip-equivariance", "cut/fastcut: mirror inputs at random and G's features back before PatchNCE (cut: false, fastcut: true)", o => o.FlipEquivariance, (o, v) => o with { FlipEquivariance = v });
        Add("--onednn", "oneDNN CPU kernels, ~2.5x faster (--onednn false uses libtorch's own, slower kernels)", o => o.OneDnn, (o, v) => o with { OneDnn = v });
    }

    public IReadOnlyList<Option> All => _all;

    /// <summary>The record the command line describes: the --model's defaults, then every option given.</summary>
    public TrainOptions Read(ParseResult p) => Read(p.CommandResult);

    /// <inheritdoc cref="Read(ParseResult)"/>
    public TrainOptions Read(SymbolResult p)
    {
        var m = ModelDefaults(p);
        var options = m;
        foreach (var set in _setters) options = set(p, m, options);
        return options;
    }

    /// <summary>The defaults of the --model given (CycleGAN's when none is).</summary>
    public TrainOptions ModelDefaults(SymbolResult p) => TrainOptions.Defaults(Value(p, Model, TranslationModels.CycleGan));

    /// <summary>The value given on the command line, else <paramref name="modelDefault"/>.</summary>
    public static T Value<T>(SymbolResult p, Option<T> option, T modelDefault) =>
        p.GetResult(option) is { Implicit: false } ? p.GetValue(option)! : modelDefault;

    /// <summary>
    /// The cross-option rules of <see cref="TrainOptions.Validate"/> (they need the whole record, with the --model's
    /// defaults) as a validator of <paramref name="command"/>: they fail in the parser like the single-option rules,
    /// before any action runs. They wait until every option parsed cleanly, so each mistake is reported once.
    /// </summary>
    /// <remarks>
    /// With <paramref name="refuseIdleSchedule"/> (train), a fresh run whose every epoch would train at lr 0 is refused
    /// too: under the reference's linear rule the last epoch always does, so a one-epoch run changes no weight. The
    /// library only notes it (TrainingRun), because its tests run such loops on purpose.
    /// </remarks>
    public void AddCrossOptionRules(Command command, bool refuseIdleSchedule = false) => command.Validators.Add(r =>
    {
        var options = Read(r);
        if (options.SingleOptionProblems().Count > 0) return; // the options' own validators report those
        var problems = options.CrossOptionProblems();
        foreach (string problem in problems) r.AddError(problem);
        if (refuseIdleSchedule && problems.Count == 0 && !options.ContinueTrain && options.LastEpoch >= options.EpochCount
            && LearningRateSchedule.EpochsAtZeroLr(options, options.EpochCount).Count == options.LastEpoch - options.EpochCount + 1)
            r.AddError($"--n-epochs {options.NEpochs} --n-epochs-decay {options.NEpochsDecay}: every epoch would train at lr 0 " +
                       $"(--lr-policy {options.LrPolicy}: the reference's linear rule gives the last epoch lr 0), so nothing would train; " +
                       "add an epoch with --n-epochs or --n-epochs-decay");
    });

    /// <summary>A string option bound to a record field, whose values the parser checks and --help lists.</summary>
    public Option<string> Choice(string name, string description, Func<TrainOptions, string> get, Func<TrainOptions, string, TrainOptions> set, IReadOnlyList<string> choices)
    {
        var option = Add(name, description, get, set);
        option.HelpName = string.Join('|', choices);
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (value is null || !choices.Contains(value))
                r.AddError($"{name} '{value}' is not one of: {string.Join(", ", choices)}");
        });
        return option;
    }

    /// <summary>
    /// A rule on one option's value, checked by the parser: breaking it is "error: --opt: reason", exit 2, before any
    /// work, as in the other two programs. <see cref="TrainOptions.Validate"/> keeps the same rules for library callers.
    /// </summary>
    public static Option<T> Rule<T>(Option<T> option, Func<T, bool> ok, Func<T, string> reason)
    {
        option.Validators.Add(r =>
        {
            T value = r.GetValueOrDefault<T>();
            if (!ok(value)) r.AddError($"{option.Name} {reason(value)}");
        });
        return option;
    }

    /// <summary>
    /// An option bound to a record field: its --help default is the field's CycleGAN default, and when it is not
    /// given the field keeps the chosen --model's default.
    /// </summary>
    public Option<T> Add<T>(string name, string description, Func<TrainOptions, T> get, Func<TrainOptions, T, TrainOptions> set)
    {
        var option = Add(name, description, get(D));
        _setters.Add((p, m, o) => set(o, Value(p, option, get(m))));
        return option;
    }

    /// <summary>An option the command places itself (files, paths) whose value <see cref="Read"/> writes into the record.</summary>
    public Option<T> Bind<T>(Option<T> option, Func<TrainOptions, T, TrainOptions> set)
    {
        _setters.Add((p, _, o) => set(o, p.GetValue(option)!));
        return option;
    }

    /// <summary>An option of the command only (not a record field).</summary>
    public Option<T> Add<T>(string name, string description, T defaultValue)
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        _all.Add(option);
        return option;
    }
}
