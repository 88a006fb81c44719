using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Exporter;
using Google.Protobuf;

namespace CycleGanEdge.Export;

/// <summary>
/// <c>cyclegan-export stamp MODEL.onnx --alpha composite --load-size 72 -o OUT.onnx</c>: adds the preprocessing keys
/// to a model exported before they existed. The output is the input's bytes unchanged followed by the new metadata
/// entries (protobuf merges repeated fields appended to a message), so graph and weights are untouched by construction.
/// </summary>
internal static class StampCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("MODEL.onnx") { Description = "A model written by cyclegan-export without the preprocessing keys" }.AcceptExistingOnly();
        var output = new Option<FileInfo>("--output", "-o") { Description = "The ONNX file to write (may be MODEL.onnx itself)", HelpName = "OUT.onnx", Required = true };
        var alpha = new Option<string>("--alpha")
        {
            Description = "What training did with transparency: composite (onto --background; cyclegan-train data) or drop (RGB as stored; the reference trainer)",
            Required = true,
        }.AcceptOnlyFromAmong(ModelContract.AlphaComposite, ModelContract.AlphaDrop);
        var background = new Option<string>("--background") { Description = "With --alpha composite: the colour composited onto", HelpName = "#rrggbb", DefaultValueFactory = _ => "#ffffff" };
        var preprocess = new Option<string>("--train-preprocess") { Description = "The trainer's --preprocess (recorded, informative)", HelpName = "NAME", DefaultValueFactory = _ => "resize_and_crop" };
        var loadSize = new Option<int>("--load-size") { Description = "The trainer's --load-size (recorded, informative)", HelpName = "N", Required = true }.AtLeast(1);
        var command = new Command("stamp", "Record how training preprocessed images (transparency, background, resize) in a model exported before those keys existed; metadata only")
        {
            model, output, alpha, background, preprocess, loadSize,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(background) is not { Implicit: false }) return;
            if (r.GetValue(alpha) == ModelContract.AlphaDrop)
                r.AddError("--background goes with --alpha composite");
            else if (ImagePreprocessing.ParseColour(r.GetValue(background) ?? "") is null)
                r.AddError($"--background '{r.GetValue(background)}' is not a colour #rrggbb");
        });
        command.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            string source = parse.GetValue(model)!.FullName;
            string target = parse.GetValue(output)!.FullName;
            if (ModelCheck.Read(source, stderr) is not var (bytes, proto)) return ExitCodes.Failed;
            var problems = ModelCheck.ContractProblems(proto);
            if (problems.Count > 0)
            {
                stderr.WriteLine($"error: {source}: not a cyclegan-export model: {string.Join("; ", problems)}");
                return ExitCodes.Failed;
            }
            if (proto.MetadataProps.FirstOrDefault(p => ModelContract.PreprocessingKeys.Contains(p.Key)) is { } existing)
            {
                stderr.WriteLine($"error: {source}: already records its preprocessing ({existing.Key}={existing.Value}); nothing written");
                return ExitCodes.Failed;
            }
            var rgb = ImagePreprocessing.ParseColour(parse.GetValue(background)!)!.Value;
            var preprocessing = new ImagePreprocessing
            {
                Alpha = parse.GetValue(alpha)!,
                BackgroundR = rgb.R, BackgroundG = rgb.G, BackgroundB = rgb.B,
                TrainPreprocess = parse.GetValue(preprocess)!,
                LoadSize = parse.GetValue(loadSize),
            };
            var suffix = new ModelProto();
            foreach (var (key, value) in preprocessing.Metadata())
                suffix.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            byte[] stamped = [.. bytes, .. suffix.ToByteArray()];
            try
            {
                AtomicFile.WriteAllBytes(target, stamped);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {target}: cannot write: {e.Message}");
                return ExitCodes.Failed;
            }
            stdout.WriteLine($"wrote {target}: the {bytes.Length:N0} bytes of {Path.GetFileName(source)} unchanged, then " +
                string.Join(", ", preprocessing.Metadata().Select(p => $"{p.Key}={p.Value}")));
            return ExitCodes.Success;
        });
        return command;
    }
}
