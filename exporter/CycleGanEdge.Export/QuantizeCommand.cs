using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Exporter;
using CycleGanEdge.Core.CommandLine;

namespace CycleGanEdge.Export;

/// <summary><c>cyclegan-export quantize MODEL.onnx --calibration DIR -o OUT.int8.onnx</c>: int8 of a float32 model exported earlier.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("MODEL.onnx") { Description = "A float32 model written by cyclegan-export" }.AcceptExistingOnly();
        var output = new Option<FileInfo>("--output", "-o") { Description = "The int8 ONNX file to write", HelpName = "OUT.onnx", Required = true };
        var calibration = new QuantizeOptionSet(required: true);
        var command = new Command("quantize",
            "Write a statically quantized QDQ model (int8 convolutions, uint8 activations calibrated on --calibration) of an exported float32 model")
        { model, output };
        foreach (var option in calibration.All) command.Options.Add(option);
        command.Validators.Add(calibration.Validate);
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            string source = parse.GetValue(model)!.FullName;
            string target = parse.GetValue(output)!.FullName;
            if (ModelCheck.Read(source, stderr) is not var (fp32, proto)) return ExitCodes.Failed;
            var problems = ModelCheck.ContractProblems(proto);
            if (problems.Count > 0)
            {
                stderr.WriteLine($"error: {source}: not a cyclegan-export model: {string.Join("; ", problems)}");
                return ExitCodes.Failed;
            }
            try
            {
                var int8 = ExportJob.Quantize(fp32, new Int8Request(parse.GetValue(calibration.Calibration)!.FullName, calibration.Read(parse)), source);
                ExportCommand.PrintQuantization(int8.Report, int8.Warnings, stdout, stderr);
                ExportJob.Write(target, int8.Model);
                stdout.WriteLine($"wrote {target}: int8 QDQ of {source}, {int8.Model.Length / 1024} KiB");
                return ExitCodes.Success;
            }
            catch (ExportJobException e)
            {
                ExportCommand.PrintFailure(e, stderr);
                return ExitCodes.Failed;
            }
        });
        return command;
    }
}
