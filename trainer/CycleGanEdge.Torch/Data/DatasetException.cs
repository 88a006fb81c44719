namespace CycleGanEdge.Torch.Data;

/// <summary>A user-facing problem with a dataset or its options; the message names the folder or file and the reason.</summary>
public sealed class DatasetException(string message, Exception? inner = null) : Exception(message, inner);
