using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CycleGanEdge.Core;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// Everything one training run needs, with the reference trainer's defaults
/// (options/base_options.py, options/train_options.py, models/cycle_gan_model.py).
/// Saved beside the checkpoints as opt.txt (for people) and opt.json (to reproduce the run).
/// </summary>
public sealed record TrainOptions
{
    /// <summary>cyclegan, or cut/fastcut (the CUT reference's CUT_mode): see <see cref="Defaults"/> for what each changes.</summary>
    [FixedOnResume("--model")]
    public string Model { get; init; } = TranslationModels.CycleGan;

    // Data.
    public string DataRoot { get; init; } = "";
    public string Phase { get; init; } = "train";
    public string Preprocess { get; init; } = "resize_and_crop";
    public int LoadSize { get; init; } = 286;
    public int CropSize { get; init; } = 256;
    public bool NoFlip { get; init; }
    public bool SerialBatches { get; init; }
    public int MaxDatasetSize { get; init; } = int.MaxValue;
    [FixedOnResume("--batch-size")]
    public int BatchSize { get; init; } = 1;
    public int Workers { get; init; } = 4;
    /// <summary>Names written into generator checkpoints (default: the dataset's folder names, else A and B).</summary>
    public string? DomainA { get; init; }
    public string? DomainB { get; init; }

    // Run and outputs.
    public string Name { get; init; } = "experiment_name";
    public string CheckpointsDir { get; init; } = "./checkpoints";
    public int PrintFreq { get; init; } = 100;
    public int SaveLatestFreq { get; init; } = 5000;
    public int SaveEpochFreq { get; init; } = 5;
    public int EvalFreq { get; init; } = 1;
    /// <summary>Images per domain in each epoch's sample grid.</summary>
    public int SampleCount { get; init; } = 4;
    /// <summary>Test images per domain used for the per-epoch cycle L1 (the reference tests 50 by default).</summary>
    public int EvalImages { get; init; } = 50;
    /// <summary>Domain classifier ONNX (cyclegan-train classifier): each eval also reports the share of translations classified as the target domain.</summary>
    public string? EvalClassifier { get; init; }
    public bool ContinueTrain { get; init; }
    public string Epoch { get; init; } = "latest";
    public int EpochCount { get; init; } = 1;
    public string Device { get; init; } = "auto";
    [FixedOnResume("--seed")]
    public int Seed { get; init; }
    public int Threads { get; init; }
    /// <summary>libtorch's oneDNN CPU kernels (~2.5x faster; narrow convolutions padded, see NarrowConvolutionPadding).</summary>
    public bool OneDnn { get; init; } = true;

    // Networks.
    [FixedOnResume("--netG")]
    public string NetG { get; init; } = "resnet_9blocks";
    [FixedOnResume("--netD")]
    public string NetD { get; init; } = "basic";
    [FixedOnResume("--n-layers-D")]
    public int NLayersD { get; init; } = 3;
    [FixedOnResume("--ngf")]
    public int Ngf { get; init; } = 64;
    [FixedOnResume("--ndf")]
    public int Ndf { get; init; } = 64;
    [FixedOnResume("--norm")]
    public string Norm { get; init; } = "instance";
    /// <summary>The reference CycleGAN sets no_dropout=True: its generators train without dropout.</summary>
    [FixedOnResume("--no-dropout")]
    public bool NoDropout { get; init; } = true;
    /// <summary>How the generators' decoders upsample: convtranspose (the reference) or resize (nearest x2 + 3x3 conv).</summary>
    [FixedOnResume("--upsample")]
    public string Upsample { get; init; } = NetworkFactory.ConvTransposeUpsampling;
    /// <summary>
    /// The CUT reference's anti-aliased down- and upsampling (blur after stride-1 convs, blur-upsample before convs) in
    /// resnet generators and PatchGAN discriminators: the default of cut and fastcut, as there.
    /// </summary>
    [FixedOnResume("--antialias")]
    public bool Antialias { get; init; }
    /// <summary>Resnet generators draw a change to their input: output = clip(input + tanh(last conv), -1, 1).</summary>
    [FixedOnResume("--residual")]
    public bool Residual { get; init; }
    public string InitType { get; init; } = "normal";
    public double InitGain { get; init; } = 0.02;
    [FixedOnResume("--input-nc")]
    public int InputNc { get; init; } = 3;
    [FixedOnResume("--output-nc")]
    public int OutputNc { get; init; } = 3;

    // Objective and optimisation.
    public string GanMode { get; init; } = "lsgan";
    public double LambdaA { get; init; } = 10.0;
    public double LambdaB { get; init; } = 10.0;
    public double LambdaIdentity { get; init; } = 0.5;
    public double LambdaGp { get; init; } = 10.0;
    [FixedOnResume("--pool-size")]
    public int PoolSize { get; init; } = 50;
    public int DSteps { get; init; } = 1;
    public string Objective { get; init; } = "full";
    public double Lr { get; init; } = 0.0002;
    public double Beta1 { get; init; } = 0.5;
    public int NEpochs { get; init; } = 100;
    public int NEpochsDecay { get; init; } = 100;
    public string LrPolicy { get; init; } = "linear";
    public int LrDecayIters { get; init; } = 50;

    // CUT and FastCUT (the CUT reference's options; ignored by cyclegan).
    /// <summary>Indices into the resnet generator's model Sequential whose outputs feed PatchNCE.</summary>
    [FixedOnResume("--nce-layers")]
    public string NceLayers { get; init; } = "0,4,8,12,16";
    public int NumPatches { get; init; } = 256;
    public double NceT { get; init; } = 0.07;
    [FixedOnResume("--netF-nc")]
    public int NetFNc { get; init; } = 256;
    public double LambdaGan { get; init; } = 1.0;
    public double LambdaNce { get; init; } = 1.0;
    /// <summary>The identity term PatchNCE(G(B), B) (CUT: on, FastCUT: off).</summary>
    public bool NceIdt { get; init; }
    /// <summary>Mirror the input at random and un-mirror G's features before PatchNCE (FastCUT: on).</summary>
    public bool FlipEquivariance { get; init; }

    /// <summary>
    /// The defaults of a model, as its reference sets them: cyclegan as pytorch-CycleGAN-and-pix2pix; cut and
    /// fastcut as contrastive-unpaired-translation (init xavier, no image pool, 200 + 200 epochs; cut: lambda_NCE 1
    /// with the identity term; fastcut: lambda_NCE 10, flip equivariance, 150 + 50 epochs).
    /// </summary>
    public static TrainOptions Defaults(string model) => model switch
    {
        TranslationModels.Cut => new TrainOptions
        {
            Model = model, InitType = "xavier", PoolSize = 0, NEpochs = 200, NEpochsDecay = 200, LambdaNce = 1.0, NceIdt = true, Antialias = true,
        },
        TranslationModels.FastCut => new TrainOptions
        {
            Model = model, InitType = "xavier", PoolSize = 0, NEpochs = 150, NEpochsDecay = 50, LambdaNce = 10.0, FlipEquivariance = true, Antialias = true,
        },
        _ => new TrainOptions { Model = model },
    };

    public bool IsCut => Model is TranslationModels.Cut or TranslationModels.FastCut;

    /// <summary><see cref="NceLayers"/> as numbers; empty when it does not parse.</summary>
    [JsonIgnore]
    public int[] NceLayerList => ParseLayers(NceLayers) ?? [];

    /// <summary>"0,4,8": ascending distinct indices of 0 or more, else null.</summary>
    public static int[]? ParseLayers(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split(',');
        var layers = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out layers[i])) return null;
            if (i > 0 && layers[i] <= layers[i - 1]) return null;
        }
        return layers;
    }

    public static readonly string[] GanModes = ["lsgan", "vanilla", "wgangp"];
    public static readonly string[] Objectives = ["full", "gan-only", "cycle-only", "gan-forward-cycle", "gan-backward-cycle"];
    public static readonly string[] LrPolicies = ["linear", "step", "plateau", "cosine"];

    public string RunDirectory => Path.Combine(CheckpointsDir, Name);
    public int LastEpoch => NEpochs + NEpochsDecay;

    /// <summary>G_A (A -> B); G_B is the same with the channels swapped.</summary>
    [JsonIgnore]
    public GeneratorOptions GeneratorA => new()
    {
        Arch = NetG, InputNc = InputNc, OutputNc = OutputNc, Ngf = Ngf, Norm = Norm, UseDropout = !NoDropout, Upsample = Upsample, Antialias = Antialias,
        Residual = Residual,
    };

    [JsonIgnore]
    public GeneratorOptions GeneratorB => GeneratorA with { InputNc = OutputNc, OutputNc = InputNc };

    /// <summary>D_A judges B-domain images; D_B is the same for A-domain images.</summary>
    [JsonIgnore]
    public DiscriminatorOptions DiscriminatorA => new()
    {
        Arch = NetD, InputNc = OutputNc, Ndf = Ndf, NLayers = NLayersD, Norm = Norm, Antialias = Antialias && NetD is "basic" or "n_layers",
    };

    [JsonIgnore]
    public DiscriminatorOptions DiscriminatorB => DiscriminatorA with { InputNc = InputNc };

    /// <summary>Objective switches (the paper's ablations, section 5.1.4).</summary>
    public bool UsesGan => Objective != "cycle-only";
    public bool UsesForwardCycle => Objective is "full" or "cycle-only" or "gan-forward-cycle";
    public bool UsesBackwardCycle => Objective is "full" or "cycle-only" or "gan-backward-cycle";
    /// <summary>The ablations are run without the identity term, as in the paper.</summary>
    public bool UsesIdentity => LambdaIdentity > 0 && Objective == "full";

    /// <summary>Problems a user can fix, one message each; empty when the options are usable.</summary>
    /// <remarks>
    /// The guard of library callers (<see cref="TrainingRun"/>, bench). cyclegan-train's parser checks all of them first:
    /// each single-option rule on its option, the cross-option rules in a command validator (TrainOptionSet).
    /// </remarks>
    public IReadOnlyList<string> Validate() => [.. SingleOptionProblems(), .. CrossOptionProblems()];

    /// <summary>The rules on one option's value; cyclegan-train's parser checks each on its option.</summary>
    public IReadOnlyList<string> SingleOptionProblems()
    {
        var errors = new List<string>();
        void Check(bool ok, string message) { if (!ok) errors.Add(message); }
        void OneOf(string value, IReadOnlyList<string> allowed, string option) =>
            Check(allowed.Contains(value), $"{option} '{value}' is not one of: {string.Join(", ", allowed)}");

        // Single-option rules (the parser's too).
        OneOf(GanMode, GanModes, "--gan-mode");
        OneOf(Objective, Objectives, "--objective");
        OneOf(LrPolicy, LrPolicies, "--lr-policy");
        // The network names have one home, NetworkFactory; the parser (TrainOptionSet) offers the same lists.
        OneOf(InitType, NetworkFactory.InitTypes, "--init-type");
        OneOf(Norm, NetworkFactory.Norms, "--norm");
        OneOf(NetG, NetworkFactory.GeneratorArchs, "--netG");
        OneOf(NetD, NetworkFactory.DiscriminatorArchs, "--netD");
        OneOf(Upsample, NetworkFactory.Upsamplings, "--upsample");
        Check(double.IsFinite(InitGain) && InitGain > 0, $"--init-gain must be a positive number, not {InitGain.ToString(CultureInfo.InvariantCulture)}");
        Check(Ngf >= 1 && Ndf >= 1, "--ngf and --ndf must be positive");
        Check(NLayersD >= 1, "--n-layers-D must be at least 1");
        Check(CropSize > 0 && LoadSize > 0, "--crop-size and --load-size must be positive");
        Check(BatchSize > 0, "--batch-size must be positive");
        Check(InputNc is 1 or 3 && OutputNc is 1 or 3, "--input-nc and --output-nc must be 1 or 3");
        Check(DSteps >= 1, "--d-steps must be at least 1");
        Check(Devices.IsValidName(Device), $"--device '{Device}': use auto, cpu, cuda or cuda:N");
        Check(!string.IsNullOrWhiteSpace(Phase) && MaxDatasetSize >= 1 && Workers >= 1, "--phase cannot be empty; --max-dataset-size and --workers must be at least 1");
        Check(double.IsFinite(LambdaGp) && LambdaGp >= 0, $"--lambda-gp must be a finite number of at least 0, not {LambdaGp.ToString(CultureInfo.InvariantCulture)}");
        Check(PoolSize >= 0, "--pool-size must be 0 or more");
        Check(NEpochs >= 0 && NEpochsDecay >= 0, "--n-epochs and --n-epochs-decay must be 0 or more");
        Check(EpochCount >= 1, "--epoch-count must be at least 1");
        Check(Lr > 0, "--lr must be positive");
        Check(LrDecayIters > 0, "--lr-decay-iters must be positive");
        Check(SaveEpochFreq > 0 && SaveLatestFreq > 0 && PrintFreq > 0, "--save-epoch-freq, --save-latest-freq and --print-freq must be positive");
        Check(EvalFreq >= 0, "--eval-freq must be 0 (off) or more");
        Check(EvalImages >= 1 && SampleCount >= 1, "--eval-images and --sample-count must be positive");
        Check(Threads >= 0, "--threads must be 0 (all cores) or more");
        OneOf(Model, TranslationModels.Names, "--model");
        Check(IsValidRunName(Name), $"--name '{Name}' is not a valid folder name");
        if (IsCut)
        {
            // Only cut/fastcut use these (the parser checks them for every model).
            Check(NumPatches >= 1 && NetFNc >= 1, "--num-patches and --netF-nc must be positive");
            Check(double.IsFinite(NceT) && NceT > 0, "--nce-T must be positive");
            Check(LambdaNce >= 0 && LambdaGan >= 0, "--lambda-NCE and --lambda-GAN must be 0 or more");
        }

        return errors;
    }

    /// <summary>
    /// The rules between options. They need the record with the --model's defaults filled in, so cyclegan-train checks
    /// them in a command validator that reads the whole record (TrainOptionSet.AddCrossOptionRules).
    /// </summary>
    public IReadOnlyList<string> CrossOptionProblems()
    {
        var errors = new List<string>();
        void Check(bool ok, string message) { if (!ok) errors.Add(message); }
        // For cut/fastcut the resnet requirement below says it once.
        Check(!Antialias || IsCut || NetG.StartsWith("resnet_", StringComparison.Ordinal), $"--antialias is for resnet generators, not {NetG}");
        Check(!Residual || NetG.StartsWith("resnet_", StringComparison.Ordinal), $"--residual is for resnet generators, not {NetG}");
        Check(!Residual || InputNc == OutputNc, "--residual adds the input to the output: it needs --input-nc == --output-nc");
        Check(!Antialias || Upsample == NetworkFactory.ConvTransposeUpsampling, "--antialias replaces the generator's upsampling: leave --upsample at convtranspose");
        Check(IsCut || !(UsesIdentity && InputNc != OutputNc && InputNc is 1 or 3 && OutputNc is 1 or 3), // one message per mistake
            "--lambda-identity > 0 needs --input-nc == --output-nc (the identity loss feeds B images to G_A); use --lambda-identity 0");
        Check(NEpochs < 0 || NEpochsDecay < 0 || LastEpoch >= 1, "--n-epochs + --n-epochs-decay must be at least 1");
        if (IsCut)
        {
            Check(NetG.StartsWith("resnet_", StringComparison.Ordinal), $"--model {Model} needs a resnet generator (--netG resnet_9blocks or resnet_6blocks), not {NetG}");
            Check(InputNc == OutputNc, $"--model {Model} needs --input-nc == --output-nc (G's encoder reads both its input and its output)");
            Check(PoolSize == 0, $"--model {Model} keeps no image pool: --pool-size must be 0");
            Check(Objective == "full", $"--objective applies to --model cyclegan only");
            // Counted on the resnet the options ask for (resnet_9blocks when they ask for another: refused above).
            var resnet = ModelDescriptor.KindOf(NetG) is GeneratorKind.Resnet6Blocks or GeneratorKind.Resnet9Blocks ? NetG : "resnet_9blocks";
            int layerCount = ResnetGenerator.LayersOf(
                ModelDescriptor.Of(ModelDescriptor.KindOf(resnet), Ngf, NormKind.Instance, InputNc, OutputNc, antialiasing: Antialias ? Antialiasing.Blur : Antialiasing.None));
            var layers = ParseLayers(NceLayers);
            Check(layers is not null && layers.Length > 0 && layers[^1] < layerCount,
                $"--nce-layers '{NceLayers}' must be ascending indices 0..{layerCount - 1} of the {NetG} generator's layers, separated by commas");
            Check(LambdaNce > 0 || LambdaGan > 0, "--lambda-NCE and --lambda-GAN are both 0: the generator would have no loss to train on");
        }
        return errors;
    }

    /// <summary>A run name makes one folder: not blank, no path separators or other characters a file name cannot hold.</summary>
    public static bool IsValidRunName(string? name) =>
        !string.IsNullOrWhiteSpace(name) && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainOptions FromJson(string json) =>
        JsonSerializer.Deserialize<TrainOptions>(json, Json) ?? throw new InvalidDataException("opt.json is empty");

    /// <summary>The fields marked <see cref="FixedOnResumeAttribute"/>, with the option that sets each.</summary>
    public static readonly IReadOnlyList<(string Option, PropertyInfo Property)> FixedOnResume =
        [.. typeof(TrainOptions).GetProperties()
            .Select(p => (p.GetCustomAttribute<FixedOnResumeAttribute>()?.Option, Property: p))
            .Where(f => f.Option is not null)
            .Select(f => (f.Option!, f.Property))];

    /// <summary>The reference's opt.txt layout: one "name: value" line per option, "[default: x]" where changed.</summary>
    public string ToText()
    {
        var defaults = Defaults(Model);
        var text = new StringBuilder("----------------- Options ---------------\n");
        foreach (var property in typeof(TrainOptions).GetProperties().Where(p => p.CanWrite))
        {
            string value = Format(property.GetValue(this));
            string fallback = Format(property.GetValue(defaults));
            string key = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            string comment = value == fallback ? "" : $"\t[default: {fallback}]";
            text.Append(CultureInfo.InvariantCulture, $"{key,25}: {value,-30}{comment}\n");
        }
        return text.Append("----------------- End -------------------\n").ToString();
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        bool b => b ? "True" : "False",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

/// <summary>
/// A field that --continue-train (latest) must find unchanged: the networks, their data shapes and the random
/// streams the saved state continues. <paramref name="option"/> names it in the mismatch message.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FixedOnResumeAttribute(string option) : Attribute
{
    public string Option { get; } = option;
}
