namespace CycleGanEdge.Torch.Data;

/// <summary>
/// How a dataset is read and augmented; names and defaults follow the reference trainer's options
/// (--dataroot, --phase, --preprocess, --load_size, --crop_size, --no_flip, --serial_batches, ...).
/// </summary>
public sealed record DataOptions
{
    public static readonly IReadOnlyList<string> PreprocessModes =
        ["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"];

    /// <summary>Folder holding &lt;phase&gt;A and &lt;phase&gt;B.</summary>
    public required string DataRoot { get; init; }
    /// <summary>"train" augments (random crop and flip); any other phase crops at the centre and never flips.</summary>
    public string Phase { get; init; } = "train";
    public string Preprocess { get; init; } = "resize_and_crop";
    public int LoadSize { get; init; } = 286;
    public int CropSize { get; init; } = 256;
    public bool NoFlip { get; init; }
    /// <summary>A in sorted order and B index = i % |B| instead of a shuffle and random B.</summary>
    public bool SerialBatches { get; init; }
    /// <summary>Each folder is capped to this many images (after sorting).</summary>
    public int MaxDatasetSize { get; init; } = int.MaxValue;
    /// <summary>Channels of domain A images: 1 = grayscale, 3 = RGB.</summary>
    public int InputNc { get; init; } = 3;
    /// <summary>Channels of domain B images: 1 = grayscale, 3 = RGB.</summary>
    public int OutputNc { get; init; } = 3;
    public int BatchSize { get; init; } = 1;
    public int Seed { get; init; }
    /// <summary>Background threads that decode and augment.</summary>
    public int Workers { get; init; } = 2;
    /// <summary>At most this many batches are decoded ahead of the consumer (the memory bound).</summary>
    public int Prefetch { get; init; } = 4;

    internal bool IsTraining => Phase == "train";

    /// <summary>Throws <see cref="DatasetException"/> naming the first bad option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataRoot)) Fail("the data root is empty");
        if (string.IsNullOrWhiteSpace(Phase)) Fail("the phase is empty");
        if (!PreprocessModes.Contains(Preprocess))
            Fail($"unknown preprocess '{Preprocess}' (use {string.Join(", ", PreprocessModes)})");
        if (LoadSize < 1) Fail($"load size must be positive, got {LoadSize}");
        if (CropSize < 1) Fail($"crop size must be positive, got {CropSize}");
        if (Preprocess is "resize_and_crop" or "scale_width_and_crop" && CropSize > LoadSize)
            Fail($"crop size {CropSize} is larger than load size {LoadSize}");
        if (MaxDatasetSize < 1) Fail($"max dataset size must be positive, got {MaxDatasetSize}");
        if (InputNc is not (1 or 3)) Fail($"input channels must be 1 or 3, got {InputNc}");
        if (OutputNc is not (1 or 3)) Fail($"output channels must be 1 or 3, got {OutputNc}");
        if (BatchSize < 1) Fail($"batch size must be positive, got {BatchSize}");
        if (Workers < 1) Fail($"workers must be at least 1, got {Workers}");
        if (Prefetch < 1) Fail($"prefetch must be at least 1, got {Prefetch}");
    }

    private static void Fail(string reason) => throw new DatasetException($"Bad data options: {reason}.");
}
