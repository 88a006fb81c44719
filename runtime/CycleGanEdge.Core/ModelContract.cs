namespace CycleGanEdge.Core;

/// <summary>
/// The metadata keys and graph names shared by the exporter and the runtime.
/// docs/onnx-contract.md documents each one; tests keep the two in step.
/// </summary>
public static class ModelContract
{
    /// <summary>2: <see cref="UpsampleKey"/> and <see cref="AntialiasKey"/> say what version 1 files leave to their graph.</summary>
    public const int Version = 2;

    public const string InputName = "input";
    public const string OutputName = "output";

    public const string ContractVersionKey = "cyclegan.contract_version";
    public const string DirectionKey = "cyclegan.direction";
    /// <summary>Which method trained the generator: one of <see cref="Methods"/>.</summary>
    public const string MethodKey = "cyclegan.method";
    public const string DomainInKey = "cyclegan.domain_in";
    public const string DomainOutKey = "cyclegan.domain_out";
    public const string ArchKey = "cyclegan.arch";
    public const string NgfKey = "cyclegan.ngf";
    public const string NormKey = "cyclegan.norm";
    public const string ChannelsInKey = "cyclegan.channels_in";
    public const string ChannelsOutKey = "cyclegan.channels_out";
    public const string IoKey = "cyclegan.io";
    public const string PixelRangeKey = "cyclegan.pixel_range";
    public const string PrecisionKey = "cyclegan.precision";
    public const string SpatialMultipleKey = "cyclegan.spatial_multiple";
    /// <summary>Version 2: <c>convtranspose</c> or <c>resize</c> (<see cref="ModelDescriptor.UpsamplingNames"/>); version 1 files tell by a Resize node.</summary>
    public const string UpsampleKey = "cyclegan.upsample";
    /// <summary>Version 2: <c>none</c> or <c>blur</c> (<see cref="ModelDescriptor.AntialiasingNames"/>); version 1 files tell by blur filters (<c>*.filt</c> weights).</summary>
    public const string AntialiasKey = "cyclegan.antialias";
    /// <summary>
    /// Optional: <c>image</c> or <c>residual</c> (<see cref="ModelDescriptor.OutputNames"/>); files without it give the image.
    /// The graph computes either; the key says which, and <see cref="ContractCheck"/> checks it against the graph.
    /// </summary>
    public const string OutputKey = "cyclegan.output";
    public const string TrainSizeKey = "cyclegan.train_size";
    public const string SourceSha256Key = "cyclegan.source_sha256";
    public const string ExporterVersionKey = "cyclegan.exporter_version";

    // What the trainer did to an image before the network (docs/onnx-contract.md, "Preprocessing"); read by
    // ImagePreprocessing. Models exported before these keys existed lack them all.
    /// <summary>Transparency: <see cref="AlphaComposite"/> (onto <see cref="BackgroundKey"/>) or <see cref="AlphaDrop"/> (RGB as stored).</summary>
    public const string AlphaKey = "cyclegan.alpha";
    /// <summary><c>#rrggbb</c> the transparent parts were composited onto; <c>none</c> with <see cref="AlphaDrop"/>.</summary>
    public const string BackgroundKey = "cyclegan.background";
    public const string ColorSpaceKey = "cyclegan.color_space";
    /// <summary>Informative: the trainer's --preprocess name (resize_and_crop, crop, scale_width, ...).</summary>
    public const string TrainPreprocessKey = "cyclegan.train_preprocess";
    /// <summary>Informative: the trainer's --load-size (the crop size is <see cref="TrainSizeKey"/>).</summary>
    public const string LoadSizeKey = "cyclegan.load_size";

    /// <summary>Every key the exporter writes, in the order of the doc's table.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        ContractVersionKey, DirectionKey, MethodKey, DomainInKey, DomainOutKey, ArchKey, NgfKey, NormKey,
        ChannelsInKey, ChannelsOutKey, IoKey, PixelRangeKey, PrecisionKey, SpatialMultipleKey, UpsampleKey, AntialiasKey,
        OutputKey, TrainSizeKey, SourceSha256Key, ExporterVersionKey,
        AlphaKey, BackgroundKey, ColorSpaceKey, TrainPreprocessKey, LoadSizeKey,
    ];

    /// <summary>The preprocessing keys: written together, absent together in models exported before them.</summary>
    public static readonly IReadOnlyList<string> PreprocessingKeys = [AlphaKey, BackgroundKey, ColorSpaceKey, TrainPreprocessKey, LoadSizeKey];

    /// <summary>The keys version 2 added; version 1 files lack them and their graph tells (<see cref="ContractCheck"/>).</summary>
    public static readonly IReadOnlyList<string> Version2Keys = [UpsampleKey, AntialiasKey];

    /// <summary>
    /// Every key a version 1 model must carry: <see cref="Keys"/> but <see cref="MethodKey"/>, <see cref="PreprocessingKeys"/>
    /// and <see cref="Version2Keys"/>, which models exported before them lack. Those were all CycleGAN generators, so a
    /// missing method reads as <see cref="MethodCycleGan"/>; missing preprocessing reads as <see cref="AlphaDrop"/> (what
    /// the runtime did then). A version 2 model carries <see cref="Version2Keys"/> too.
    /// </summary>
    public static readonly IReadOnlyList<string> RequiredKeys =
        [.. Keys.Where(k => k != MethodKey && k != OutputKey && !PreprocessingKeys.Contains(k) && !Version2Keys.Contains(k))];

    public const string AlphaComposite = "composite";
    public const string AlphaDrop = "drop";
    public const string BackgroundNone = "none";
    public const string ColorSpaceSrgb = "srgb";

    public const string MethodCycleGan = "cyclegan";

    /// <summary>Values of <see cref="MethodKey"/>: the trainer's --model names.</summary>
    public static readonly IReadOnlyList<string> Methods = [MethodCycleGan, "cut", "fastcut"];

    public const string IoFloat32Nchw = "float32-nchw";
    public const string IoUint8Nhwc = "uint8-nhwc";

    // Domain classifier models (docs/onnx-contract.md, "Domain classifier models"): written by
    // cyclegan-train classifier, read by cyclegan-run eval --classifier. Separate keys: a classifier is not a generator.
    public const int ClassifierVersion = 1;
    public const string ClassifierOutputName = "logits";
    public const string ClassifierVersionKey = "cyclegan.classifier_version";
    public const string ClassifierLabelsKey = "cyclegan.classifier_labels";
    public const string ClassifierImageSizeKey = "cyclegan.classifier_image_size";
    public const string ClassifierPixelRangeKey = "cyclegan.classifier_pixel_range";

    /// <summary>Every key a classifier model carries, in the order of the doc's table.</summary>
    public static readonly IReadOnlyList<string> ClassifierKeys =
        [ClassifierVersionKey, ClassifierLabelsKey, ClassifierImageSizeKey, ClassifierPixelRangeKey];

    /// <summary>Optional: how the graph is quantized; absent for float models. <see cref="QuantizationInt8Qdq"/>: QDQ int8 convolutions.</summary>
    public const string QuantizationKey = "cyclegan.quantization";
    /// <summary>Optional, with <see cref="QuantizationKey"/>: how activation ranges were calibrated ("percentile 99.9985 on 90 images").</summary>
    public const string CalibrationKey = "cyclegan.calibration";
    public const string QuantizationInt8Qdq = "int8-qdq";
    /// <summary>Optional, with <see cref="QuantizationKey"/>: bits of the int8 weights, "7" or "8"; files without it have 8.</summary>
    public const string WeightBitsKey = "cyclegan.weight_bits";
}
