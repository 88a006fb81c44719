using System.Security.Cryptography;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Data;

namespace CycleGanEdge.Exporter.Tests;

/// <summary><see cref="ExportJob"/> without the command line: tiny generators (ngf 8) trained at 32 px.</summary>
public sealed class ExportJobTests : IDisposable
{
    private readonly string _dir = TempFolder.New("export-job");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathIn(string name) => Path.Combine(_dir, name);

    private string SaveCheckpoint(string name, string? model = null, ImagePreprocessing? preprocessing = null)
    {
        var arch = TinyGenerators.Options("resnet_6blocks");
        using var generator = TinyGenerators.Create(arch);
        var extra = new Dictionary<string, string>();
        if (model is not null) extra["model"] = model;
        if (preprocessing is not null) TrainingPreprocessing.AddTo(extra, preprocessing);
        string path = PathIn(name);
        CheckpointFile.SaveModule(path, new CheckpointHeader
        {
            Kind = CheckpointKinds.Generator, Generator = arch, Direction = "AtoB", DomainIn = "noto", DomainOut = "twemoji", TrainSize = 32, Extra = extra,
        }, generator);
        return path;
    }

    private static IReadOnlyDictionary<string, string> Metadata(string onnx) =>
        ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnx)).MetadataProps.ToDictionary(e => e.Key, e => e.Value);

    /// <summary>A folder of <paramref name="count"/> gradient images, and optionally one file that is not an image.</summary>
    private string CalibrationFolder(int count, bool withBrokenFile = false)
    {
        string folder = Directory.CreateDirectory(PathIn("calibration")).FullName;
        for (int n = 0; n < count; n++)
        {
            var image = new RgbaImage(32, 32);
            for (int i = 0; i < image.Pixels.Length; i += 4)
            {
                int x = i / 4 % 32, y = i / 4 / 32;
                (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]) = ((byte)(x * 8), (byte)(y * 8), (byte)(n * 60 + x + y));
            }
            File.WriteAllBytes(Path.Combine(folder, $"img{n}.png"), ImageCodec.Encode(image, ImageFormat.Png));
        }
        if (withBrokenFile) File.WriteAllBytes(Path.Combine(folder, "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        return folder;
    }

    [Fact]
    public void A_checkpoint_exports_with_its_recorded_identity_the_overrides_and_the_parity_figures()
    {
        string checkpoint = SaveCheckpoint("latest_net_G.ckpt", model: "cut", preprocessing: ImagePreprocessing.CompositeOnWhite("resize_and_crop", 40));
        string output = PathIn("model.onnx");
        var result = ExportJob.Run(new ExportRequest { Source = checkpoint, Output = output, DomainOut = "emoji", Options = new ExportOptions { Name = "tiny" } });

        Assert.True(result.Written);
        Assert.Equal(new FileInfo(output).Length, result.Bytes);
        Assert.Equal(TinyGenerators.Options("resnet_6blocks"), result.Architecture);
        Assert.False(result.ArchitectureFromFile);
        Assert.Equal(("AtoB", "cut", "noto", "emoji", 32), (result.Identity.Direction, result.Identity.Method, result.Identity.DomainIn, result.Identity.DomainOut, result.Identity.TrainSize));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(checkpoint))), result.Identity.SourceSha256);
        Assert.True(result.Identity.Preprocessing!.Composites);
        Assert.Empty(result.Notes);
        Assert.Null(result.Quantization);

        // Two random inputs, each within the float32 bound; the figures are real (not all zero).
        Assert.True(result.Parity.Passed);
        Assert.Equal(2, result.Parity.Samples.Count);
        Assert.All(result.Parity.Samples, s => Assert.InRange(s.MaxAbsDiff, 0, result.Parity.MaxBound));
        Assert.Contains(result.Parity.Samples, s => s.MaxAbsDiff > 0);

        var meta = Metadata(output);
        Assert.Equal(("cut", "noto", "emoji", "32", "composite"),
            (meta[ModelContract.MethodKey], meta[ModelContract.DomainInKey], meta[ModelContract.DomainOutKey], meta[ModelContract.TrainSizeKey], meta[ModelContract.AlphaKey]));
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(File.ReadAllBytes(output))));
    }

    [Fact]
    public void A_checkpoint_that_predates_the_preprocessing_record_gets_a_note_and_no_preprocessing_keys()
    {
        string output = PathIn("old.onnx");
        var result = ExportJob.Run(new ExportRequest { Source = SaveCheckpoint("old.ckpt"), Output = output });
        Assert.Contains("old.ckpt does not record how training treated transparency", Assert.Single(result.Notes));
        Assert.Null(result.Identity.Preprocessing);
        Assert.Equal(ModelContract.MethodCycleGan, result.Identity.Method); // no model name: a CycleGAN generator
        Assert.DoesNotContain(ModelContract.AlphaKey, Metadata(output).Keys);
    }

    [Fact]
    public void A_reference_pth_gives_the_architecture_and_its_file_name_the_direction()
    {
        string pth = PathIn("latest_net_G_B.pth");
        File.Copy(PyTorch.Fixtures.Path("resnet_6blocks_ngf4.pth"), pth);
        var result = ExportJob.Run(new ExportRequest { Source = pth, FromPyTorch = true, Output = PathIn("reference.onnx") });
        Assert.True(result.ArchitectureFromFile);
        Assert.Equal(("resnet_6blocks", 4, "instance"), (result.Architecture.Arch, result.Architecture.Ngf, result.Architecture.Norm));
        Assert.Equal(("BtoA", "B", "A", 256), (result.Identity.Direction, result.Identity.DomainIn, result.Identity.DomainOut, result.Identity.TrainSize));
        Assert.Equal(ImagePreprocessing.Reference, result.Identity.Preprocessing);
        Assert.True(result.Written);
    }

    [Fact]
    public void A_stated_architecture_that_contradicts_the_pth_is_a_usage_error_naming_the_file()
    {
        string pth = PathIn("g.pth");
        File.Copy(PyTorch.Fixtures.Path("resnet_9blocks_ngf4_none_dropout.pth"), pth);
        string output = PathIn("x.onnx");
        var e = Assert.Throws<ExportJobException>(() => ExportJob.Run(new ExportRequest
        {
            Source = pth, FromPyTorch = true, Output = output, Stated = new StatedArchitecture { Ngf = 8, Norm = "none" },
        }));
        Assert.True(e.IsUsageError);
        Assert.Equal($"{pth}: --ngf 8 but the file holds ngf 4 (leave the flag out to use the file's)", e.Message); // --norm none agrees
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_damaged_checkpoint_is_a_failure_naming_it_not_a_usage_error()
    {
        string checkpoint = SaveCheckpoint("g.ckpt");
        byte[] bytes = File.ReadAllBytes(checkpoint);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(checkpoint, bytes);
        var e = Assert.Throws<ExportJobException>(() => ExportJob.Run(new ExportRequest { Source = checkpoint, Output = PathIn("x.onnx") }));
        Assert.False(e.IsUsageError);
        Assert.StartsWith($"{checkpoint}: ", e.Message);
        Assert.False(File.Exists(PathIn("x.onnx")));
    }

    [Fact]
    public void A_missing_calibration_folder_fails_before_the_source_is_read()
    {
        string missing = PathIn("no-such-folder");
        var e = Assert.Throws<ExportJobException>(() => ExportJob.Run(new ExportRequest
        {
            Source = PathIn("not-read.ckpt"), Output = PathIn("x.onnx"), Int8 = new Int8Request(missing, new QuantizeOptions()),
        }));
        Assert.Equal($"{missing}: calibration folder not found", e.Message);
    }

    [Fact]
    public void Int8_reports_the_quantization_and_the_skipped_image_and_keeps_the_contract()
    {
        string folder = CalibrationFolder(2, withBrokenFile: true);
        string output = PathIn("model.int8.onnx");
        var result = ExportJob.Run(new ExportRequest
        {
            Source = SaveCheckpoint("g.ckpt"), Output = output, Int8 = new Int8Request(folder, new QuantizeOptions { Method = CalibrationMethod.MinMax }),
        });
        Assert.True(result.Written);
        Assert.True(result.Parity.Passed); // the float model is checked before it is quantized
        Assert.Equal(2, result.Quantization!.Images);
        Assert.True(result.Quantization.IntegerConvolutions > 0);
        Assert.StartsWith(Path.Combine(folder, "broken.png"), Assert.Single(result.Warnings));
        Assert.Equal(new FileInfo(output).Length, result.Bytes);
        Assert.Empty(ModelCheck.ContractProblems(ModelProto.Parser.ParseFrom(File.ReadAllBytes(output))));
    }

    [Fact]
    public void Calibration_images_that_all_fail_are_one_error_with_the_skipped_files_as_warnings()
    {
        string folder = Directory.CreateDirectory(PathIn("broken")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        string output = PathIn("x.onnx");
        var e = Assert.Throws<ExportJobException>(() => ExportJob.Run(new ExportRequest
        {
            Source = SaveCheckpoint("g.ckpt"), Output = output, Int8 = new Int8Request(folder, new QuantizeOptions()),
        }));
        Assert.StartsWith($"{folder}: none of its images could be read", e.Message);
        Assert.StartsWith(Path.Combine(folder, "a.png"), Assert.Single(e.Warnings));
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void An_output_that_cannot_be_written_is_named_in_the_error()
    {
        string output = Directory.CreateDirectory(PathIn("a-folder.onnx")).FullName;
        var e = Assert.Throws<ExportJobException>(() => ExportJob.Run(new ExportRequest { Source = SaveCheckpoint("g.ckpt"), Output = output }));
        Assert.StartsWith($"{output}: cannot write", e.Message);
        Assert.False(e.IsUsageError);
    }
}
