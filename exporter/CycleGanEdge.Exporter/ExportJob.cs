using System.Security.Cryptography;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Exporter.PyTorch;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Data;
using CycleGanEdge.Torch.Networks;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace CycleGanEdge.Exporter;

/// <summary>One export: a generator file in, a checked ONNX model out (<see cref="ExportJob.Run"/>).</summary>
public sealed record ExportRequest
{
    /// <summary>A generator checkpoint written by cyclegan-train or, with <see cref="FromPyTorch"/>, a reference state_dict (.pth).</summary>
    public required string Source { get; init; }
    public bool FromPyTorch { get; init; }
    /// <summary>The ONNX file to write; nothing is written unless the parity check passes.</summary>
    public required string Output { get; init; }
    public ExportOptions Options { get; init; } = new();
    /// <summary>Replace what the source records (or, for a .pth, what its file name implies); null keeps it.</summary>
    public string? Direction { get; init; }
    public string? DomainIn { get; init; }
    public string? DomainOut { get; init; }
    public int? TrainSize { get; init; }
    /// <summary><see cref="FromPyTorch"/> only: what the user says the architecture is; it must agree with the file.</summary>
    public StatedArchitecture Stated { get; init; } = new();
    /// <summary>Also quantize the export to int8, calibrated on this folder's images; null: float only.</summary>
    public Int8Request? Int8 { get; init; }
}

/// <summary>
/// The architecture options given with a reference .pth; null ones are read from the file. When the file's layout
/// is not recognised, <see cref="Arch"/> and the rest (with the reference's defaults) are used as they are.
/// </summary>
public sealed record StatedArchitecture
{
    public string? Arch { get; init; }
    public int? Ngf { get; init; }
    public string? Norm { get; init; }
    public int? InputNc { get; init; }
    public int? OutputNc { get; init; }
    public bool NoDropout { get; init; }

    public bool Any => Arch is not null || Ngf is not null || Norm is not null || InputNc is not null || OutputNc is not null || NoDropout;
}

/// <summary>int8 quantization of an export: the calibration images' folder and how to calibrate.</summary>
public sealed record Int8Request(string CalibrationFolder, QuantizeOptions Options);

/// <summary>What an export did. <see cref="Written"/> is false when parity failed (nothing was quantized or written).</summary>
public sealed record ExportResult
{
    public required string Source { get; init; }
    public required string Output { get; init; }
    public required GeneratorOptions Architecture { get; init; }
    /// <summary>True when the architecture was read from a reference .pth's keys and shapes.</summary>
    public bool ArchitectureFromFile { get; init; }
    public required ModelIdentity Identity { get; init; }
    public required ExportOptions Options { get; init; }
    public required ParityReport Parity { get; init; }
    /// <summary>The int8 step's figures; null when not quantized.</summary>
    public QuantizeReport? Quantization { get; init; }
    public bool Written { get; init; }
    /// <summary>Size of the written model.</summary>
    public int Bytes { get; init; }
    /// <summary>Facts about the source worth telling (for example that it predates a metadata key).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Calibration images that were skipped, and why.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>
/// An export that cannot be done. <see cref="Exception.Message"/> starts with the file at fault ("FILE: reason");
/// <see cref="IsUsageError"/> when the file is fine but a stated option contradicts it.
/// </summary>
public sealed class ExportJobException(string message, bool isUsageError = false, Exception? inner = null, IReadOnlyList<string>? warnings = null)
    : Exception(message, inner)
{
    public bool IsUsageError { get; } = isUsageError;
    /// <summary>What was skipped before the failure (calibration images that could not be read), to show with it.</summary>
    public IReadOnlyList<string> Warnings { get; } = warnings ?? [];
}

/// <summary>
/// The export use case behind <c>cyclegan-export export</c> and <c>quantize</c>: load the generator (our checkpoint or a
/// reference .pth), write it as ONNX with its identity in the metadata, check ONNX Runtime against TorchSharp, optionally
/// quantize to int8, and write the file atomically. Every expected failure is an <see cref="ExportJobException"/>.
/// </summary>
public static class ExportJob
{
    public static ExportResult Run(ExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string source = request.Source;
        try
        {
            if (request.Int8 is not null)
                CalibrationSet.ImageFiles(request.Int8.CalibrationFolder); // fail before a long export
        }
        catch (CalibrationException e)
        {
            throw new ExportJobException(e.Message, inner: e);
        }

        nn.Module<Tensor, Tensor>? generator = null;
        try
        {
            var notes = new List<string>();
            var loaded = request.FromPyTorch ? LoadReference(request) : LoadCheckpoint(source, notes);
            generator = loaded.Generator;
            var arch = loaded.Architecture;
            var identity = loaded.Identity with
            {
                Direction = request.Direction ?? loaded.Identity.Direction,
                DomainIn = request.DomainIn ?? loaded.Identity.DomainIn,
                DomainOut = request.DomainOut ?? loaded.Identity.DomainOut,
                TrainSize = request.TrainSize ?? loaded.Identity.TrainSize,
                SourceSha256 = Sha256(source),
            };
            var options = request.Options;
            byte[] onnx = OnnxExport.ToBytes(generator, arch, options, identity);
            var result = new ExportResult
            {
                Source = source,
                Output = request.Output,
                Architecture = arch,
                ArchitectureFromFile = request.FromPyTorch,
                Identity = identity,
                Options = options,
                Parity = OnnxExport.CheckParity(generator, arch, onnx, options),
                Notes = notes,
            };
            if (!result.Parity.Passed) return result;

            if (request.Int8 is not null)
            {
                var int8 = Quantize(onnx, request.Int8, source);
                onnx = int8.Model;
                result = result with { Quantization = int8.Report, Warnings = int8.Warnings };
            }
            Write(request.Output, onnx);
            return result with { Written = true, Bytes = onnx.Length };
        }
        catch (InvalidDataException e)
        {
            // The checkpoint readers' messages already start with the file name.
            throw new ExportJobException(e.Message, inner: e);
        }
        catch (ExportException e)
        {
            throw new ExportJobException($"{source}: {e.Message}", inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExportJobException($"{source}: cannot read: {e.Message}", inner: e);
        }
        finally
        {
            generator?.Dispose();
        }
    }

    private const string WarningPrefix = "warning: "; // how CalibrationSet.Load reports a skipped image

    /// <summary>An int8 model and what quantizing it found.</summary>
    public sealed record Int8Model(byte[] Model, QuantizeReport Report, IReadOnlyList<string> Warnings);

    /// <summary>
    /// Quantizes an exported float32 model on the calibration folder's images and checks that the result still keeps
    /// the contract (<see cref="ModelCheck.ContractProblems"/>). Also <c>cyclegan-export quantize</c>'s whole work.
    /// </summary>
    /// <param name="source">The model's file, named in the errors about it.</param>
    public static Int8Model Quantize(byte[] fp32, Int8Request request, string source)
    {
        ArgumentNullException.ThrowIfNull(request);
        var meta = ModelProto.Parser.ParseFrom(fp32).MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        var skipped = new StringWriter();
        IReadOnlyList<ModelInput> inputs;
        try
        {
            inputs = CalibrationSet.Load(request.CalibrationFolder, meta, skipped);
        }
        catch (CalibrationException e)
        {
            throw new ExportJobException(e.Message, inner: e, warnings: Warnings(skipped));
        }
        byte[] int8;
        QuantizeReport report;
        try
        {
            (int8, report) = Int8Quantizer.Quantize(fp32, inputs, request.Options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ExportJobException($"ONNX Runtime failed while quantizing: {e.Message.Split('\n')[0].Trim()}", inner: e);
        }
        catch (InvalidModelException e)
        {
            throw new ExportJobException(e.Message, inner: e);
        }
        catch (ExportException e)
        {
            throw new ExportJobException($"{source}: {e.Message}", inner: e);
        }
        var problems = ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(int8));
        if (problems.Count > 0)
            throw new ExportJobException($"{source}: the quantized model breaks the contract: {string.Join("; ", problems)}");
        var warnings = Warnings(skipped);
        return new Int8Model(int8, report, warnings);
    }

    /// <summary>Writes atomically; a failure names the output file.</summary>
    public static void Write(string output, byte[] model)
    {
        try
        {
            AtomicFile.WriteAllBytes(output, model);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExportJobException($"{output}: cannot write: {e.Message}", inner: e);
        }
    }

    private sealed record LoadedGenerator(nn.Module<Tensor, Tensor> Generator, GeneratorOptions Architecture, ModelIdentity Identity);

    private static LoadedGenerator LoadCheckpoint(string source, List<string> notes)
    {
        var (generator, header) = CheckpointFile.LoadGenerator(source);
        var identity = new ModelIdentity
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
            notes.Add($"{Path.GetFileName(source)} does not record how training treated transparency (trained before it was recorded): " +
                "the model gets no preprocessing keys and cyclegan-run feeds RGBA files as stored (info warns)");
        return new LoadedGenerator(generator, header.Generator!, identity);
    }

    private static LoadedGenerator LoadReference(ExportRequest request)
    {
        string source = request.Source;
        var stateDict = PyTorchCheckpoint.ReadStateDict(source);
        var arch = ResolveArchitecture(stateDict, request.Stated, source);
        var generator = BuildGenerator(arch);
        try
        {
            StateDictLoader.LoadInto(generator, stateDict, source);
        }
        catch (InvalidDataException e)
        {
            generator.Dispose();
            throw new InvalidDataException($"{e.Message} (--arch, --ngf, --norm, --input-nc, --output-nc and --no-dropout " +
                "must match the options the reference trained it with)", e);
        }
        // The reference names G_A (A to B) and G_B (B to A) in its file names: latest_net_G_B.pth.
        bool bToA = Path.GetFileNameWithoutExtension(source).EndsWith("G_B", StringComparison.Ordinal);
        var identity = bToA ? new ModelIdentity { Direction = "BtoA", DomainIn = "B", DomainOut = "A" } : new ModelIdentity();
        // The reference loads images with PIL convert('RGB'): alpha dropped, not composited.
        identity = identity with { Preprocessing = ImagePreprocessing.Reference };
        // Anti-aliased resnets come from the CUT reference (its CUT and FastCUT files look alike: "cut").
        if (arch.Antialias) identity = identity with { Method = "cut" };
        return new LoadedGenerator(generator, arch, identity);
    }

    /// <summary>
    /// The architecture read from the state_dict, checked against what was stated; when the file's layout is not
    /// recognised, the stated options alone (with the reference's defaults) if an arch is stated.
    /// </summary>
    private static GeneratorOptions ResolveArchitecture(IReadOnlyDictionary<string, StateTensor> stateDict, StatedArchitecture stated, string source)
    {
        GeneratorOptions inferred;
        try
        {
            inferred = ReferenceArchitecture.Infer(stateDict);
        }
        catch (InvalidDataException e)
        {
            if (stated.Arch is null)
                throw new InvalidDataException($"{source}: cannot tell the generator architecture: {e.Message}; give --arch and the other options it was trained with", e);
            return new GeneratorOptions
            {
                Arch = stated.Arch,
                Ngf = stated.Ngf ?? 64,
                Norm = stated.Norm ?? "instance",
                InputNc = stated.InputNc ?? 3,
                OutputNc = stated.OutputNc ?? 3,
                UseDropout = false,
            };
        }
        var conflicts = new List<string>();
        void Compare(string option, object? given, object fromFile)
        {
            if (given is not null && !Equals(given, fromFile))
                conflicts.Add($"--{option} {given} but the file holds {option} {fromFile}");
        }
        Compare("arch", stated.Arch, inferred.Arch);
        Compare("ngf", stated.Ngf, inferred.Ngf);
        Compare("norm", stated.Norm, inferred.Norm);
        Compare("input-nc", stated.InputNc, inferred.InputNc);
        Compare("output-nc", stated.OutputNc, inferred.OutputNc);
        if (stated.NoDropout && inferred.UseDropout)
            conflicts.Add("--no-dropout but the file's residual blocks have dropout");
        if (conflicts.Count > 0) // the file is fine; a flag contradicts it
            throw new ExportJobException($"{source}: {string.Join("; ", conflicts)} (leave the flag out to use the file's)", isUsageError: true);
        return inferred;
    }

    private static nn.Module<Tensor, Tensor> BuildGenerator(GeneratorOptions arch)
    {
        try
        {
            return NetworkFactory.CreateGenerator(arch);
        }
        catch (ArgumentException e)
        {
            throw new ExportException($"cannot build {arch.Arch} from the given flags: {e.Message}");
        }
    }

    /// <summary>The lines CalibrationSet.Load wrote about skipped images, without their "warning: ".</summary>
    private static List<string> Warnings(StringWriter skipped) =>
        [.. skipped.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.StartsWith(WarningPrefix, StringComparison.Ordinal) ? line[WarningPrefix.Length..] : line)];

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
