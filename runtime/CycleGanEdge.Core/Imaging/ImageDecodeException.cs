namespace CycleGanEdge.Core.Imaging;

/// <summary>A file that is not a readable image (empty, truncated, unknown format, too large).</summary>
public sealed class ImageDecodeException(string path, string reason, Exception? inner = null)
    : Exception($"{path}: {reason}", inner)
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;
    /// <summary>The header names more pixels than the caller's <see cref="ImageLimits.MaxPixels"/> (a decompression bomb): nothing was decoded.</summary>
    public bool AboveMaxPixels { get; init; }
}
