using System.Reflection;
using System.Text.Json;
using CycleGanEdge.Run;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>The deployable runtime must not drag TorchSharp (or the projects that use it) along.</summary>
public class DeploymentTests
{
    private static readonly string[] Forbidden = ["TorchSharp", "CycleGanEdge.Torch", "CycleGanEdge.Exporter", "CycleGanEdge.Trainer", "libtorch"];

    [Fact]
    public void Runtime_and_cyclegan_run_reference_no_torch_assembly_even_indirectly()
    {
        var seen = new HashSet<string>();
        var pending = new Stack<Assembly>([typeof(Translator).Assembly, typeof(Program).Assembly]);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                string name = reference.Name!;
                Assert.DoesNotContain(Forbidden, f => name.StartsWith(f, StringComparison.OrdinalIgnoreCase));
                if (name.StartsWith("CycleGanEdge.", StringComparison.Ordinal) && seen.Add(name))
                    pending.Push(Assembly.Load(reference));
            }
        }
        Assert.Equal(["CycleGanEdge.Core", "CycleGanEdge.Runtime"], seen.Order());
    }

    /// <summary>The shared base is what the trainer and exporter may link without an inference engine: no ONNX Runtime either.</summary>
    [Fact]
    public void Core_references_no_onnx_runtime_and_no_torch_assembly()
    {
        var references = typeof(CycleGanEdge.Core.ModelContract).Assembly.GetReferencedAssemblies().Select(r => r.Name!).ToList();
        Assert.Contains("SkiaSharp", references);
        Assert.DoesNotContain(references, r => r.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) || r.StartsWith("CycleGanEdge.", StringComparison.Ordinal));
        Assert.DoesNotContain(references, r => Forbidden.Any(f => r.StartsWith(f, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public void Cyclegan_run_deps_json_has_no_torch_package()
    {
        string deps = Path.Combine(AppContext.BaseDirectory, "cyclegan-run.deps.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(deps));
        var libraries = doc.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains(libraries, l => l.StartsWith("Microsoft.ML.OnnxRuntime/", StringComparison.Ordinal));
        Assert.Contains(libraries, l => l.StartsWith("SkiaSharp/", StringComparison.Ordinal));
        foreach (string forbidden in Forbidden)
            Assert.DoesNotContain(forbidden, File.ReadAllText(deps), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The runtime's tests build without the trainer's engine too: test models are hand-built ONNX graphs.</summary>
    [Fact]
    public void The_runtime_tests_deps_json_has_no_torch_package()
    {
        string deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "CycleGanEdge.Runtime.Tests.deps.json"));
        Assert.Contains("CycleGanEdge.Core", deps);
        foreach (string forbidden in Forbidden)
            Assert.DoesNotContain(forbidden, deps, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll")));
    }

    /// <summary>ONNX Runtime's package adds its Windows DLL to every output; other platforms drop it (17 MB).</summary>
    [Fact]
    public void Output_carries_no_other_platforms_onnxruntime()
    {
        if (OperatingSystem.IsWindows())
            return;
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so")));
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "onnxruntime.dll")));
    }
}
