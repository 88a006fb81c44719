using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Parsing;
using System.Security.Cryptography;
using System.Globalization;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core;
using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Networks;
using CycleGanEdge.Exporter;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

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
        Description = "--from-pytorch: generator architecture (" + string.Join(", ", Networks.GeneratorArchs) + "; default: from the file)",
        HelpName = "NAME",
    }.AcceptOnlyFromAmong([.. Networks.GeneratorArchs]);
    private static readonly Option<int?> Ngf = new Option<int?>("--ngf") { Description = "--from-pytorch: filters in the first conv layer (default: from the file)", HelpName = "N" }.AtLeast(1);
    private static readonly Option<string?> Norm = new Option<string?>("--norm")
    {
        Description = "--from-pytorch: normalization layer (" + string.Join(", ", Networks.Norms) + "; default: from the file)",
        HelpName = "NAME",
    }.AcceptOnlyFromAmong([.. Networks.Norms]);
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
        QuantizeOptions? quantize = parse.GetValue(Quantize) is null ? null : Calibration.Read(parse);
        if (quantize is not null)
        {
            try
            {
                CalibrationSet.ImageFiles(parse.GetValue(Calibration.Calibration)!.FullName); // fail before a long export
            }
            catch (CalibrationException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return ExitCodes.Failed;
            }
        }
        var checkpoint = parse.GetValue(Checkpoint);
        var pth = parse.GetValue(FromPyTorch);
        var output = parse.GetValue(Output)!;
        var options = new ExportOptions
        {
            Opset = parse.GetValue(Opset),
            Fp16 = parse.GetValue(Fp16),
            FoldBatchNorm = parse.GetValue(FoldBatchNorm),
            Io = parse.GetValue(Io)!,
            Name = parse.GetValue(Name),
        };
        string source = (checkpoint ?? pth)!.FullName;

        nn.Module<Tensor, Tensor>? generator = null;
        try
        {
            GeneratorOptions arch;
            ModelIdentity identity;
            if (checkpoint is not null)
            {
                (generator, var header) = CheckpointFile.LoadGenerator(source);
                arch = header.Generator!;
                identity = new ModelIdentity
                {
                    Direction = header.Direction ?? "AtoB",
                    // Training writes the --model name; checkpoints from before CUT lack it and are CycleGAN generators.
                    Method = header.Extra.GetValueOrDefault("model", ModelContract.MethodCycleGan),
                    DomainIn = header.DomainIn ?? "A",
                    DomainOut = header.DomainOut ?? "B",
                    TrainSize = header.TrainSize > 0 ? header.TrainSize : 256,
                    Preprocessing = TrainingPreprocessing.From(header.Extra),
                };
                if (identity.Preprocessing is null)
                    stdout.WriteLine($"note: {Path.GetFileName(source)} does not record how training treated transparency (trained before it was recorded): " +
                        "the model gets no preprocessing keys and cyclegan-run feeds RGBA files as stored (info warns)");
            }
            else
            {
                var stateDict = PyTorchCheckpoint.ReadStateDict(source);
                var (resolved, conflict) = PyTorchArch(parse, stateDict, source);
                if (resolved is null)
                {
                    stderr.WriteLine($"error: {source}: {conflict}");
                    return ExitCodes.Usage; // the file is fine; a flag contradicts it
                }
                arch = resolved;
                stdout.WriteLine($"{Path.GetFileName(source)}: {arch.Arch}, ngf {arch.Ngf}, {arch.Norm} norm, " +
                    $"{(arch.UseDropout ? "dropout" : "no dropout")}, {arch.InputNc} -> {arch.OutputNc} channels");
                generator = BuildGenerator(arch, source);
                try
                {
                    StateDictLoader.LoadInto(generator, stateDict, source);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{e.Message} (--arch, --ngf, --norm, --input-nc, --output-nc and --no-dropout " +
                        "must match the options the reference trained it with)", e);
                }
                // The reference names G_A (A to B) and G_B (B to A) in its file names: latest_net_G_B.pth.
                bool bToA = Path.GetFileNameWithoutExtension(source).EndsWith("G_B", StringComparison.Ordinal);
                identity = bToA ? new ModelIdentity { Direction = "BtoA", DomainIn = "B", DomainOut = "A" } : new ModelIdentity();
                // The reference loads images with PIL convert('RGB'): alpha dropped, not composited.
                identity = identity with { Preprocessing = ImagePreprocessing.Reference };
                // Anti-aliased resnets come from the CUT reference (its CUT and FastCUT files look alike: "cut").
                if (arch.Antialias) identity = identity with { Method = "cut" };
            }
            identity = identity with
            {
                Direction = parse.GetValue(Direction) ?? identity.Direction,
                DomainIn = parse.GetValue(DomainIn) ?? identity.DomainIn,
                DomainOut = parse.GetValue(DomainOut) ?? identity.DomainOut,
                TrainSize = parse.GetValue(TrainSize) ?? identity.TrainSize,
                SourceSha256 = Sha256(source),
            };

            byte[] onnx = OnnxExport.ToBytes(generator, arch, options, identity);
            var report = OnnxExport.CheckParity(generator, arch, onnx, options);
            foreach (var line in report.Lines())
                stdout.WriteLine(line);
            if (!report.Passed)
            {
                stderr.WriteLine($"error: {source}: parity check failed: ONNX Runtime and TorchSharp differ by more than the bound; nothing written");
                return ExitCodes.Failed;
            }
            if (quantize is not null)
            {
                var quantized = QuantizeBytes(onnx, parse.GetValue(Calibration.Calibration)!.FullName, quantize, stdout, stderr);
                if (quantized is null) return ExitCodes.Failed;
                onnx = quantized;
            }
            try
            {
                AtomicFile.WriteAllBytes(output.FullName, onnx);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"error: {output.FullName}: cannot write: {e.Message}");
                return ExitCodes.Failed;
            }
            stdout.WriteLine($"wrote {output.FullName}: {arch.Arch} {identity.Direction} ({identity.DomainIn} -> {identity.DomainOut}), " +
                $"opset {options.Opset}, {(quantize is not null ? "int8 QDQ" : options.Fp16 ? "fp16" : "fp32")}, {options.Io}{(options.FoldBatchNorm ? ", batch norm folded" : "")}, {onnx.Length / 1024} KiB");
            return ExitCodes.Success;
        }
        catch (InvalidDataException e)
        {
            // The checkpoint readers' messages already start with the file name.
            stderr.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (ExportException e)
        {
            stderr.WriteLine($"error: {source}: {e.Message}");
            return ExitCodes.Failed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"error: {source}: cannot read: {e.Message}");
            return ExitCodes.Failed;
        }
        finally
        {
            generator?.Dispose();
        }
    }

    /// <summary>
    /// Quantizes an exported float32 model, prints the report and checks that the result still keeps the
    /// contract and runs in ONNX Runtime; null (after one error line) when the calibration images or the model fail.
    /// </summary>
    internal static byte[]? QuantizeBytes(byte[] fp32, string calibration, QuantizeOptions options, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            var meta = ModelProto.Parser.ParseFrom(fp32).MetadataProps.ToDictionary(e => e.Key, e => e.Value);
            var inputs = CalibrationSet.Load(calibration, meta, stderr);
            var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, options);
            foreach (string line in report.Lines())
                stdout.WriteLine(line);
            var problems = ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(int8));
            if (problems.Count > 0)
                throw new ExportException($"the quantized model breaks the contract: {string.Join("; ", problems)}");
            return int8;
        }
        catch (CalibrationException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            stderr.WriteLine($"error: ONNX Runtime failed while quantizing: {e.Message.Split('\n')[0].Trim()}");
            return null;
        }
        catch (InvalidModelException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// The architecture read from the state_dict, checked against the flags that were given; when the file's layout is
    /// not recognised, the flags alone (with the reference's defaults) if --arch is given. Null and the reason when a
    /// flag contradicts the file (a usage error: the file is fine).
    /// </summary>
    private static (GeneratorOptions? Arch, string? Conflict) PyTorchArch(ParseResult parse, IReadOnlyDictionary<string, StateTensor> stateDict, string source)
    {
        GeneratorOptions inferred;
        try
        {
            inferred = ReferenceArchitecture.Infer(stateDict);
        }
        catch (InvalidDataException e)
        {
            if (parse.GetValue(Arch) is not { } arch)
                throw new InvalidDataException($"{source}: cannot tell the generator architecture: {e.Message}; give --arch and the other options it was trained with", e);
            return (new GeneratorOptions
            {
                Arch = arch,
                Ngf = parse.GetValue(Ngf) ?? 64,
                Norm = parse.GetValue(Norm) ?? "instance",
                InputNc = parse.GetValue(InputNc) ?? 3,
                OutputNc = parse.GetValue(OutputNc) ?? 3,
                UseDropout = false,
            }, null);
        }
        var conflicts = new List<string>();
        void Compare<T>(Option<T> option, T given, object? fromFile)
        {
            if (parse.GetResult(option) is { Implicit: false } && !Equals(given, fromFile))
                conflicts.Add($"{option.Name} {given} but the file holds {option.Name.TrimStart('-')} {fromFile}");
        }
        Compare(Arch, parse.GetValue(Arch), inferred.Arch);
        Compare(Ngf, parse.GetValue(Ngf), inferred.Ngf);
        Compare(Norm, parse.GetValue(Norm), inferred.Norm);
        Compare(InputNc, parse.GetValue(InputNc), inferred.InputNc);
        Compare(OutputNc, parse.GetValue(OutputNc), inferred.OutputNc);
        if (parse.GetValue(NoDropout) && inferred.UseDropout)
            conflicts.Add("--no-dropout but the file's residual blocks have dropout");
        return conflicts.Count == 0 ? (inferred, null) : (null, string.Join("; ", conflicts) + " (leave the flag out to use the file's)");
    }

    private static nn.Module<Tensor, Tensor> BuildGenerator(GeneratorOptions arch, string source)
    {
        try
        {
            return Networks.CreateGenerator(arch);
        }
        catch (ArgumentException e)
        {
            throw new ExportException($"cannot build {arch.Arch} from the given flags: {e.Message}");
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
