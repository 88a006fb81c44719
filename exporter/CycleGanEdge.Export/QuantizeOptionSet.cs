using System.CommandLine;
using System.CommandLine.Parsing;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Core.CommandLine;

namespace CycleGanEdge.Export;

/// <summary>
/// --calibration, --calibration-method, --percentile, --float-ends and --weight-bits: how int8 activation ranges are calibrated and what stays float, shared by
/// <c>cyclegan-export export CHECKPOINT --quantize int8</c> and <c>cyclegan-export quantize MODEL.onnx</c>.
/// </summary>
internal sealed class QuantizeOptionSet
{
    public Option<DirectoryInfo> Calibration { get; }
    public Option<string> Method { get; } = new Option<string>("--calibration-method")
    {
        Description = "Activation range from the minimum and maximum seen, or between percentiles (clips outliers)",
        DefaultValueFactory = _ => "percentile",
    }.AcceptOnlyFromAmong("minmax", "percentile");
    public Option<double> Percentile { get; } = new Option<double>("--percentile")
    {
        Description = "--calibration-method percentile: keep values between the (100-P)th and the Pth percentile",
        HelpName = "P",
        DefaultValueFactory = _ => new QuantizeOptions().Percentile,
    }.Above(50);
    public Option<bool> FloatEnds { get; } = new Option<bool>("--float-ends")
    {
        Description = "Leave the first and the last convolution in float32: raw pixels in and the image out are where int8 costs most quality, for a few percent of the arithmetic (--float-ends false: quantize them too)",
        DefaultValueFactory = _ => new QuantizeOptions().FloatEnds,
    };

    public Option<int> WeightBits { get; } = new Option<int>("--weight-bits")
    {
        Description = "Bits of the int8 weights: 7 is exact on every CPU; 8 is finer but overflows the 16-bit sums of x86 CPUs without VNNI (AVX2, AVX-512 before VNNI)",
        HelpName = "7|8",
        DefaultValueFactory = _ => new QuantizeOptions().WeightBits,
    }.AcceptOnlyFromAmong("7", "8");

    public QuantizeOptionSet(bool required)
    {
        Calibration = new Option<DirectoryInfo>("--calibration")
        {
            Description = "Folder of sample input-domain images to calibrate activation ranges on",
            HelpName = "DIR",
            Required = required,
        }.AcceptExistingOnly();
        Percentile.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() > 100) r.AddError($"{Percentile.Name} must be at most 100 (e.g. 99.99)");
        });
    }

    public IReadOnlyList<Option> All => [Calibration, Method, Percentile, FloatEnds, WeightBits];

    /// <summary>A percentile given with minmax would be silently ignored: refuse it.</summary>
    public void Validate(CommandResult r)
    {
        if (r.GetValue(Method) == "minmax" && r.GetResult(Percentile) is { Implicit: false })
            r.AddError($"{Percentile.Name} goes with --calibration-method percentile");
    }

    public QuantizeOptions Read(ParseResult parse) => new()
    {
        Method = parse.GetValue(Method) == "minmax" ? CalibrationMethod.MinMax : CalibrationMethod.Percentile,
        Percentile = parse.GetValue(Percentile),
        FloatEnds = parse.GetValue(FloatEnds),
        WeightBits = parse.GetValue(WeightBits),
    };
}
