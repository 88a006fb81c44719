namespace CycleGanEdge.Exporter.Tests.InRuntime;

/// <summary>Exported test models on disk, for the runtime to open.</summary>
internal static class ExportedModels
{
    /// <summary>A folder removed when the test process exits.</summary>
    public static string Folder() => CycleGanEdge.Tests.Shared.TempFolder.New("ex-rt");

    public static string Save(byte[] model, string? folder = null, string name = "model.onnx")
    {
        string path = Path.Combine(folder ?? Folder(), name);
        File.WriteAllBytes(path, model);
        return path;
    }
}
