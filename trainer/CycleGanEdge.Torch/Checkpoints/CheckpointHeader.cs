using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Torch.Checkpoints;

/// <summary>
/// The JSON header of a checkpoint: what the tensors are and how to rebuild the network that holds them,
/// so a generator file is usable on its own (exporter, test runs) without the training options.
/// </summary>
public sealed record CheckpointHeader
{
    /// <summary>"generator", "discriminator", "optimizer", ... (see <see cref="CheckpointKinds"/>).</summary>
    public string Kind { get; init; } = "";
    /// <summary>Set when <see cref="Kind"/> is "generator".</summary>
    public GeneratorOptions? Generator { get; init; }
    /// <summary>Set when <see cref="Kind"/> is "discriminator".</summary>
    public DiscriminatorOptions? Discriminator { get; init; }
    /// <summary>"AtoB" or "BtoA": which way this generator translates.</summary>
    public string? Direction { get; init; }
    public string? DomainIn { get; init; }
    public string? DomainOut { get; init; }
    /// <summary>Image side (pixels) the network was trained at.</summary>
    public int TrainSize { get; init; }
    public int Epoch { get; init; }
    /// <summary>Free-form facts for other tools (kept as strings so the format never needs a schema change).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
}

/// <summary>Values of <see cref="CheckpointHeader.Kind"/> used by our tools.</summary>
public static class CheckpointKinds
{
    public const string Generator = "generator";
    public const string Discriminator = "discriminator";
    public const string Optimizer = "optimizer";
    /// <summary>CUT's PatchSampleF (the MLP heads of PatchNCE): needed to resume training, not to translate.</summary>
    public const string PatchHead = "patch-head";
}
