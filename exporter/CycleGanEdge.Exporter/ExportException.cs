namespace CycleGanEdge.Exporter;

/// <summary>A user-facing export failure: the message is printed as is, without a stack trace.</summary>
public sealed class ExportException(string message) : Exception(message);
