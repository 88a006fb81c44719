using System.Text.Json;

namespace CycleGanEdge.Runtime.Bench;

/// <summary>One operator type's share of a profiled session: kernel time summed over all its nodes and runs.</summary>
/// <param name="GigaMacs">For Conv and ConvTranspose: the generator's counted MACs of those layers over all runs, else null.</param>
public sealed record OperatorTime(string OpType, int Calls, double Milliseconds, double Share, double? GigaMacs)
{
    public double? Gflops => GigaMacs * 2 / (Milliseconds / 1000);
}

/// <summary>
/// Reads ONNX Runtime's profile (SessionOptions.EnableProfiling: a Chrome trace with one "Node" event per kernel run)
/// and sums kernel time per operator type.
/// </summary>
public static class OrtProfile
{
    /// <param name="layers">The generator's convolutions (<see cref="GeneratorCost"/>), to rate Conv and ConvTranspose; null to skip.</param>
    /// <param name="side">Input side of every profiled run (a multiple of the model's spatial multiple).</param>
    /// <param name="batch">Images per profiled run.</param>
    public static IReadOnlyList<OperatorTime> Summarize(string profilePath, IReadOnlyList<ConvLayer>? layers = null, int side = 0, int batch = 1)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(profilePath));
        var byOp = new Dictionary<string, (int Calls, double Us)>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
                continue;
            string op = e.GetProperty("args").GetProperty("op_name").GetString()!;
            var t = byOp.GetValueOrDefault(op);
            byOp[op] = (t.Calls + 1, t.Us + e.GetProperty("dur").GetDouble());
        }
        double total = byOp.Values.Sum(v => v.Us);
        return [.. byOp
            .Select(kv => new OperatorTime(kv.Key, kv.Value.Calls, kv.Value.Us / 1000, kv.Value.Us / total, Macs(kv.Key, kv.Value.Calls)))
            .OrderByDescending(o => o.Milliseconds)];

        // From the architecture, not the profile's shapes: those show NCHWc tensors and weights padded to the channel
        // block (and prepacked weights not at all), which would count work that is not the model's.
        double? Macs(string op, int calls)
        {
            if (layers is null || op is not ("Conv" or "ConvTranspose")) return null;
            var ofOp = layers.Where(l => l.Transposed == (op == "ConvTranspose")).ToList();
            if (ofOp.Count == 0 || calls % ofOp.Count != 0) return null; // fused or split by the optimiser: no fair count
            return (double)calls / ofOp.Count * batch * GeneratorCost.MultiplyAccumulates(ofOp, side, side) / 1e9;
        }
    }
}
