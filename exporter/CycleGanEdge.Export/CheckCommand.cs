using System.CommandLine;
using CycleGanEdge.Exporter;

namespace CycleGanEdge.Export;

/// <summary><c>cyclegan-export check MODEL.onnx</c>: would cyclegan-run accept this file?</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("MODEL.onnx") { Description = "An exported model to verify" }.AcceptExistingOnly();
        var command = new Command("check", "Verify an existing model: the contract, the runtime's file rules, loads and runs in ONNX Runtime") { model };
        command.SetAction(parse => ModelCheck.Run(parse.GetValue(model)!.FullName, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        return command;
    }
}
