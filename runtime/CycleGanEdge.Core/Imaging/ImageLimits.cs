namespace CycleGanEdge.Core.Imaging;

/// <summary>Checked against the header before any pixel memory is allocated (decompression bombs).</summary>
public sealed record ImageLimits
{
    public long MaxPixels { get; init; } = 100_000_000;

    public static ImageLimits Default { get; } = new();
}
