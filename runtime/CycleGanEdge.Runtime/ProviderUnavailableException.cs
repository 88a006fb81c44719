namespace CycleGanEdge.Runtime;

/// <summary>An execution provider that was asked for but cannot run in this build or on this machine.</summary>
public sealed class ProviderUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
