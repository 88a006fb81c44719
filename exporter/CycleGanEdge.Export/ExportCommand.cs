using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using CycleGanEdge.Core;
using CycleGanEdge.Core.CommandLine;
using CycleGanEdge.Exporter;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Export;

/// <summary>
/// The <c>cyclegan-export</c> command line: <c>export</c> a checkpoint (or a PyTorch .pth), <c>check</c> or
/// <c>quantize</c> a model that is already ONNX. Every failure is one
/// "error: FILE: reason" line on stderr; exit codes are in <see cref="ExitCodes"/>.
/// </summary>
public static class ExportCommand
{
    private static readonly Argument<FileInfo> Checkpoint = new Argument<FileInfo>("CHECKPOINT")
    {
        Description = "Generator checkpoint (.ckpt) written by cyclegan-train",
        Arity = ArgumentArity.ZeroOrOne,
    }.AcceptExistingOnly();
    private static readonly Option<FileInfo?> Output = new("--output", "-o") { Description = "The ONNX file to write", HelpName = "OUT.onnx" };
    private static readonly Option<bool> Fp16 = new("--fp16")
    {
        Description = "Half-precision weights and compute (inputs/outputs and instance norm stay float32)",
    };
    private static readonly Option<bool> FoldBatchNorm = new("--fold-batchnorm")
    {
        Description = "Fold batch norms into the preceding convolutions (needs a batch-norm generator)",
    };
    private static readonly Option<string> Io = new Option<string>("--io")
    {
        Description = "Tensors at the graph's edges: float32 NCHW in [-1,1], or uint8 RGB NHWC in [0,255]",
        DefaultValueFactory = _ => ModelContract.IoFloat32Nchw,
    }.AcceptOnlyFromAmong(ModelContract.IoFloat32Nchw, ModelContract.IoUint8Nhwc);
    private static readonly Option<int> Opset = new Option<int>("--opset")
    {
        Description = $"ONNX opset, {ExportOptions.MinOpset} to {ExportOptions.MaxOpset}",
        HelpName = "N",
        DefaultValueFactory = _ => new ExportOptions().Opset,
    }.Between(ExportOptions.MinOpset, ExportOptions.MaxOpset);
    private static readonly Option<string?> Name = new Option<string?>("--name") { Description = "Graph name stored in the model", HelpName = "NAME" }.NotBlank();
    private static readonly Option<string?> Direction = new Option<string?>("--direction")
    {
        Description = "Override the direction recorded in the model",
    }.AcceptOnlyFromAmong("AtoB", "BtoA");
    private static readonly Option<string?> DomainIn = new Option<string?>("--domain-in") { Description = "Override the input domain name", HelpName = "NAME" }.NotBlank();
    private static readonly Option<string?> DomainOut = new Option<string?>("--domain-out") { Description = "Override the output domain name", HelpName = "NAME" }.NotBlank();
    private static readonly Option<int?> TrainSize = new Option<int?>("--train-size")
    {
        Description = "Override the training crop size recorded in the model (default: from the checkpoint; 256 for --from-pytorch)",
        HelpName = "PIXELS",
    }.AtLeast(1);

    // A generator from the reference PyTorch trainer (a state_dict .pth) instead of our checkpoint. The architecture
    // is read from the file's keys and shapes (ReferenceArchitecture); a flag that is given must agree with it.
    private static readonly Option<FileInfo> FromPyTorch = new Option<FileInfo>("--from-pytorch")
    {
        Description = "Export a reference PyTorch generator state_dict (.pth) instead of a checkpoint; its architecture is read from the file",
        HelpName = "FILE.pth",
    }.AcceptExistingOnly();
    private static readonly Option<string?> Arch = new Option<string?>("--arch")
    {
        Description = "--from-pytorch: generator architecture (" + string.Join(", ", NetworkFactory.GeneratorArchs) + "; default: from the file)",
        HelpName = "NAME",
    }.AcceptOnlyFromAmong([.. NetworkFactory.GeneratorArchs]);
    private static readonly Option<int?> Ngf = new Option<int?>("--ngf") { Description = "--from-pytorch: filters in the first conv layer (default: from the file)", HelpName = "N" }.AtLeast(1);
    private static readonly Option<string?> Norm = new Option<string?>("--norm")
    {
        Description = "--from-pytorch: normalization layer (" + string.Join(", ", NetworkFactory.Norms) + "; default: from the file)",
        HelpName = "NAME",
    }.AcceptOnlyFromAmong([.. NetworkFactory.Norms]);
    private static readonly Option<int?> InputNc = new Option<int?>("--input-nc") { Description = "--from-pytorch: input channels (default: from the file)", HelpName = "N" }.AtLeast(1);
    private static readonly Option<int?> OutputNc = new Option<int?>("--output-nc") { Description = "--from-pytorch: output channels (default: from the file)", HelpName = "N" }.AtLeast(1);
    private static readonly Option<bool> NoDropout = new("--no-dropout")
    {
        Description = "--from-pytorch: the generator was built without dropout, as the reference's CycleGAN default (default: from the file)",
    };

    // Static int8 quantization of the export, calibrated on sample images (an existing .onnx: the quantize subcommand).
    private static readonly Option<string?> Quantize = new Option<string?>("--quantize")
    {
        Description = "Also quantize the export: int8 convolutions, uint8 activations calibrated on --calibration",
    }.AcceptOnlyFromAmong("int8");
    private static readonly QuantizeOptionSet Calibration = new(required: false);

    private static readonly Option[] PyTorchOnly = [Arch, Ngf, Norm, InputNc, OutputNc, NoDropout];

    /// <summary>The root command (named explicitly so help reads the same from any host process) and its four commands.</summary>
    public static Command Create()
    {
        var root = new Command("cyclegan-export",
            "Export trained CycleGAN generators to self-describing ONNX models, checked against TorchSharp; check, quantize and stamp ONNX models.\n" +
            "  cyclegan-export export CHECKPOINT -o OUT.onnx [--fp16] [--fold-batchnorm] [--io uint8-nhwc] [--opset N]\n" +
            "  cyclegan-export export --from-pytorch latest_net_G_A.pth -o OUT.onnx\n" +
            "  cyclegan-export export CHECKPOINT -o OUT.int8.onnx --quantize int8 --calibration DIR\n" +
            "  cyclegan-export check MODEL.onnx\n" +
            "  cyclegan-export quantize MODEL.onnx --calibration DIR -o OUT.int8.onnx\n" +
            "  cyclegan-export stamp MODEL.onnx --alpha composite --load-size N -o OUT.onnx\n" +
            "Exit codes: 0 ok, 1 failed (bad file, unsupported layer, parity), 2 wrong command line.");
        root.Add(new HelpOption { Recursive = true });
        root.Add(new VersionOption());
        root.Add(ExportSubcommand());
        root.Add(CheckCommand.Create());
        root.Add(QuantizeCommand.Create());
        root.Add(StampCommand.Create());
        return root;
    }

    private static Command ExportSubcommand()
    {
        var command = new Command("export", "Export a generator checkpoint (or a reference PyTorch .pth) to ONNX; nothing is written unless ONNX Runtime matches TorchSharp");
        command.Add(Checkpoint);
        foreach (var option in (Option[])[Output, Fp16, FoldBatchNorm, Io, Opset, Name, Direction, DomainIn, DomainOut, TrainSize, FromPyTorch, .. PyTorchOnly, Quantize])
            command.Add(option);
        foreach (var option in Calibration.All) command.Add(option);
        command.Validators.Add(Validate);
        command.SetAction(parse => Execute(parse));
        return command;
    }

    /// <summary>Parses and runs with the policy all three programs share (<see cref="CommandLineHost"/>).</summary>
    public static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error) =>
        CommandLineHost.InvokeAsync("cyclegan-export", Create(), args, output, error);

    /// <summary>The rules between options; each broken one is a usage error before any file is read.</summary>
    private static void Validate(CommandResult r)
    {
        bool Given(Option o) => r.GetResult(o) is { Implicit: false };
        var checkpoint = r.GetValue(Checkpoint);
        if (checkpoint is not null && checkpoint.Extension.Equals(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            r.AddError($"{checkpoint.FullName}: already an ONNX model: 'cyclegan-export quantize' quantizes it, 'cyclegan-export check' verifies it");
            return;
        }
        if ((checkpoint is null) == (r.GetValue(FromPyTorch) is null))
            r.AddError("give either a CHECKPOINT or --from-pytorch FILE.pth");
        else if (r.GetValue(FromPyTorch) is null && PyTorchOnly.Any(Given))
            r.AddError("--arch, --ngf, --norm, --input-nc, --output-nc and --no-dropout go with --from-pytorch");
        if (r.GetValue(Output) is null)
            r.AddError("-o/--output OUT.onnx is required");
        if (r.GetValue(Quantize) is null)
        {
            if (Calibration.All.Any(Given))
                r.AddError("--calibration, --calibration-method, --percentile, --float-ends and --weight-bits go with --quantize int8");
            return;
        }
        if (r.GetValue(Calibration.Calibration) is null)
            r.AddError("--quantize int8 needs --calibration DIR (sample images of the model's input domain)");
        if (r.GetValue(Fp16))
            r.AddError("--quantize int8 and --fp16 exclude each other");
        Calibration.Validate(r);
    }

    private static int Execute(ParseResult parse)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        var request = new ExportRequest
        {
            Source = (parse.GetValue(Checkpoint) ?? parse.GetValue(FromPyTorch))!.FullName,
            FromPyTorch = parse.GetValue(FromPyTorch) is not null,
            Output = parse.GetValue(Output)!.FullName,
            Options = new ExportOptions
            {
                Opset = parse.GetValue(Opset),
                Fp16 = parse.GetValue(Fp16),
                FoldBatchNorm = parse.GetValue(FoldBatchNorm),
                Io = parse.GetValue(Io)!,
                Name = parse.GetValue(Name),
            },
            Direction = parse.GetValue(Direction),
            DomainIn = parse.GetValue(DomainIn),
            DomainOut = parse.GetValue(DomainOut),
            TrainSize = parse.GetValue(TrainSize),
            Stated = new StatedArchitecture
            {
                Arch = parse.GetValue(Arch),
                Ngf = parse.GetValue(Ngf),
                Norm = parse.GetValue(Norm),
                InputNc = parse.GetValue(InputNc),
                OutputNc = parse.GetValue(OutputNc),
                NoDropout = parse.GetValue(NoDropout),
            },
            Int8 = parse.GetValue(Quantize) is null ? null : new Int8Request(parse.GetValue(Calibration.Calibration)!.FullName, Calibration.Read(parse)),
        };

        ExportResult result;
        try
        {
            result = ExportJob.Run(request);
        }
        catch (ExportJobException e)
        {
            PrintFailure(e, stderr);
            return e.IsUsageError ? ExitCodes.Usage : ExitCodes.Failed;
        }
        var arch = result.Architecture;
        if (result.ArchitectureFromFile)
            stdout.WriteLine($"{Path.GetFileName(result.Source)}: {arch.Arch}, ngf {arch.Ngf}, {arch.Norm} norm, " +
                $"{(arch.UseDropout ? "dropout" : "no dropout")}, {arch.InputNc} -> {arch.OutputNc} channels");
        foreach (var note in result.Notes)
            stdout.WriteLine($"note: {note}");
        foreach (var line in result.Parity.Lines())
            stdout.WriteLine(line);
        if (!result.Parity.Passed)
        {
            stderr.WriteLine($"error: {result.Source}: parity check failed: ONNX Runtime and TorchSharp differ by more than the bound; nothing written");
            return ExitCodes.Failed;
        }
        PrintQuantization(result.Quantization, result.Warnings, stdout, stderr);
        var (identity, options) = (result.Identity, result.Options);
        stdout.WriteLine($"wrote {result.Output}: {arch.Arch} {identity.Direction} ({identity.DomainIn} -> {identity.DomainOut}), " +
            $"opset {options.Opset}, {(result.Quantization is not null ? "int8 QDQ" : options.Fp16 ? "fp16" : "fp32")}, {options.Io}" +
            $"{(options.FoldBatchNorm ? ", batch norm folded" : "")}, {result.Bytes / 1024} KiB");
        return ExitCodes.Success;
    }

    /// <summary>The int8 step's report on stdout and its skipped calibration images on stderr.</summary>
    internal static void PrintQuantization(QuantizeReport? report, IReadOnlyList<string> warnings, TextWriter stdout, TextWriter stderr)
    {
        foreach (var warning in warnings)
            stderr.WriteLine($"warning: {warning}");
        foreach (var line in report?.Lines() ?? [])
            stdout.WriteLine(line);
    }

    /// <summary>What was skipped before the failure, then the one error line.</summary>
    internal static void PrintFailure(ExportJobException failure, TextWriter stderr)
    {
        foreach (var warning in failure.Warnings)
            stderr.WriteLine($"warning: {warning}");
        stderr.WriteLine($"error: {failure.Message}");
    }
}
