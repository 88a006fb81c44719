using System.CommandLine;
using CycleGanEdge.Runtime;

namespace CycleGanEdge.Run.Commands;

/// <summary>Options every command that runs a model shares (also used by the video and bench commands).</summary>
public static class SharedOptions
{
    public static Option<FileInfo> Model() => new Option<FileInfo>("--model", "-m")
    {
        Description = "Exported generator (.onnx) from cyclegan-export",
        Required = true,
    }.AcceptExistingOnly();

    public static Option<string> Provider() => new Option<string>("--provider")
    {
        Description = "Execution provider: auto (best available), cpu, cuda or directml",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong(SessionFactory.ProviderNames);

    public static Option<int> DeviceId() => NonNegative(new Option<int>("--device-id") { Description = "GPU index for cuda/directml" });

    public static Option<int> Threads() => NonNegative(new Option<int>("--threads") { Description = "Threads per model run (0 = ONNX Runtime decides)" });

    public static Option<T> NonNegative<T>(Option<T> option) where T : System.Numerics.INumber<T>
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() < T.Zero)
                r.AddError($"{r.IdentifierToken?.Value ?? option.Name} cannot be negative.");
        });
        return option;
    }

    public static Option<T> AtLeastOne<T>(Option<T> option) where T : System.Numerics.INumber<T>
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() < T.One)
                r.AddError($"{r.IdentifierToken?.Value ?? option.Name} must be at least 1.");
        });
        return option;
    }
}
