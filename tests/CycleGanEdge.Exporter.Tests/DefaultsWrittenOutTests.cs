using System.Runtime.CompilerServices;
using CycleGanEdge.Export;
using CycleGanEdge.Tests.Shared;
using Xunit.Abstractions;

namespace CycleGanEdge.Exporter.Tests;

/// <summary>Every default cyclegan-export's --help documents, written out, binds as leaving it out (see <see cref="WrittenOutDefaults"/>).</summary>
public class DefaultsWrittenOutTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Every_documented_default_written_out_binds_as_leaving_it_out()
    {
        using var folder = new TempFolder("defaults");
        string checkpoint = folder.Sub("g.ckpt");
        File.WriteAllBytes(checkpoint, [1, 2, 3]);
        string model = folder.Sub("g.onnx");
        File.WriteAllBytes(model, [1, 2, 3]);
        string calibration = Directory.CreateDirectory(folder.Sub("calibration")).FullName;
        // Only parsed: no option here documents a default, so base and case differ only in the option written out.
        var bases = new Dictionary<string, string[]>
        {
            ["export"] = [checkpoint, "-o", folder.Sub("out.onnx")],
            ["check"] = [model],
            ["quantize"] = [model, "--calibration", calibration, "-o", folder.Sub("out.int8.onnx")],
            ["stamp"] = [model, "-o", folder.Sub("stamped.onnx"), "--alpha", "composite", "--load-size", "72"],
        };
        // The calibration options of export are refused without --quantize int8 (they would be ignored).
        string[] int8 = ["--quantize", "int8", "--calibration", calibration];
        var needs = new Dictionary<string, string[]>
        {
            ["export --calibration-method"] = int8,
            ["export --percentile"] = int8,
            ["export --float-ends"] = int8,
            ["export --weight-bits"] = int8,
        };
        var result = await WrittenOutDefaults.CheckAsync(ExportCommand.Create, bases, needs);
        log.WriteLine($"{result.Checked.Count} documented defaults written out, {result.Descriptive.Count} described in words");
        Assert.True(result.Failures.Count == 0, string.Join('\n', result.Failures));
        ApprovedText.AssertMatches(ApprovedFolder(), "cyclegan-export.described-defaults", string.Join('\n', result.Descriptive));
    }

    private static string ApprovedFolder([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "Approved");
}
