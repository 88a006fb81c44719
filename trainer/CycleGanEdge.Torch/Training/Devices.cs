using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>--device auto|cpu|cuda|cuda:N, with a clear message when this build cannot use CUDA.</summary>
public static class Devices
{
    /// <summary>Whether the name has the form auto, cpu, cuda or cuda:N (an option rule; whether CUDA is there is <see cref="Resolve"/>'s question).</summary>
    public static bool IsValidName(string name)
    {
        string value = name.Trim().ToLowerInvariant();
        return value is "auto" or "cpu" or "cuda" || (value.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(value.AsSpan(5), out int n) && n >= 0);
    }

    public static Device Resolve(string name)
    {
        string value = name.Trim().ToLowerInvariant();
        if (value == "auto") return cuda.is_available() ? CUDA : CPU;
        if (value == "cpu") return CPU;
        if (value == "cuda" || value.StartsWith("cuda:", StringComparison.Ordinal))
        {
            int index = 0;
            if (value.Length > 4 && !int.TryParse(value.AsSpan(5), out index))
                throw new TrainingException($"--device '{name}': expected cuda or cuda:N with N a GPU number");
            if (!cuda.is_available())
                throw new DeviceUnavailableException(
                    $"--device {name}: this build has no CUDA support (it uses the CPU build of TorchSharp, or no GPU/driver was found). " +
                    "Build with CUDA: dotnet build -p:Accelerator=cuda (selects TorchSharp-cuda-linux/windows; docs/building.md), or use --device cpu.");
            int count = cuda.device_count();
            if (index >= count)
                throw new DeviceUnavailableException($"--device {name}: only {count} CUDA device(s) present (cuda:0..cuda:{count - 1})");
            return new Device(DeviceType.CUDA, index);
        }
        throw new TrainingException($"--device '{name}': use auto, cpu, cuda or cuda:N");
    }
}

/// <summary>
/// A device this build or machine does not have (--device cuda on a CPU build): a usage error, exit 2, as cyclegan-run's
/// provider this build lacks. Thrown before any file is written.
/// </summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);
