namespace CycleGanEdge.Core;

/// <summary>A model file that cannot be used: missing, not ONNX, or not following docs/onnx-contract.md.</summary>
public sealed class InvalidModelException(string path, string reason, Exception? inner = null)
    : Exception($"{path}: {reason}", inner)
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;
}
