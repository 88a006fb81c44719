#:project ../../exporter/CycleGanEdge.Exporter/CycleGanEdge.Exporter.csproj
// int8 against fp32 on the CPU this runs on (issue 26). Two modes, so the models can be made natively and measured under
// an emulated older CPU (qemu-x86_64-static -cpu Haswell: ONNX Runtime then takes its AVX2 kernels, as on a Zen 3):
//   dotnet run -c Release benchmarks/tools/int8_accuracy.cs -- tiny OUTDIR [IMAGES]  # tiny random generators (ngf 8, 32 px) as the
//        quantization tests build them, every convolution int8, with 8- and 7-bit weights, calibrated on the first 6 files of
//        IMAGES (default: the shipped emoji test split), which are also what `psnr` measures them on
//   dotnet run -c Release benchmarks/tools/int8_accuracy.cs -- psnr FP32.onnx INT8.onnx FOLDER   # per-image PSNR over the images of FOLDER
// scripts/int8_cpu_check.sh runs both for the tiny nets and the shipped models.
using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Exporter;
using CycleGanEdge.Exporter.Quantization;
using CycleGanEdge.Torch.Networks;

var inv = CultureInfo.InvariantCulture;
if (args is ["psnr", string fp32Path, string int8Path, string folder])
{
    byte[] fp32 = File.ReadAllBytes(fp32Path);
    var meta = CycleGanEdge.Core.Onnx.ModelProto.Parser.ParseFrom(fp32).MetadataProps.ToDictionary(e => e.Key, e => e.Value);
    var inputs = CalibrationSet.Load(folder, meta, Console.Error);
    byte[] int8 = File.ReadAllBytes(int8Path);
    // One thread, as bench measures int8 (and ONNX Runtime's default thread pool crashes under qemu-user).
    using var single = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
    var psnrs = inputs.Select(i => (i.Name, Db: Int8Quantizer.OutputPsnr(fp32, int8, [i], single).Mean)).OrderBy(p => p.Db).ToList();
    Console.WriteLine(string.Create(inv, $"{Path.GetFileName(int8Path)} on {CpuInfo.Describe()}, int8 kernels {CpuInfo.Int8.Name}: " +
        $"{psnrs.Count} images, PSNR against fp32 mean {psnrs.Average(p => p.Db):F1} dB, worst {psnrs[0].Db:F1} dB ({psnrs[0].Name}), " +
        $"next worst {string.Join(", ", psnrs.Skip(1).Take(3).Select(p => $"{p.Db:F1}"))}"));
    return 0;
}
if (args is ["tiny", string outDir, ..] && args.Length <= 3)
{
    string calibration = Path.Combine(outDir, "calibration");
    Directory.CreateDirectory(calibration);
    foreach (string file in CalibrationSet.ImageFiles(args.Length == 3 ? args[2] : "models/emoji-noto2twemoji/test/testA").Take(6))
        File.Copy(file, Path.Combine(calibration, Path.GetFileName(file)), overwrite: true);
    (string Name, string Arch, string Upsample, string Io)[] nets =
    [
        ("resnet6-convtranspose", "resnet_6blocks", NetworkFactory.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("resnet6-resize", "resnet_6blocks", NetworkFactory.ResizeUpsampling, ModelContract.IoFloat32Nchw),
        ("unet_128", "unet_128", NetworkFactory.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("encoder_decoder", "encoder_decoder", NetworkFactory.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("resnet6-uint8", "resnet_6blocks", NetworkFactory.ConvTransposeUpsampling, ModelContract.IoUint8Nhwc),
    ];
    foreach (var (name, arch, upsample, io) in nets)
    {
        var options = new GeneratorOptions { Arch = arch, Ngf = 8, Upsample = upsample };
        TorchSharp.torch.random.manual_seed(1);
        using var generator = NetworkFactory.CreateGenerator(options);
        generator.eval();
        byte[] fp32 = OnnxExport.ToBytes(generator, options, new ExportOptions { Io = io }, new ModelIdentity { TrainSize = 32 });
        File.WriteAllBytes(Path.Combine(outDir, $"{name}.fp32.onnx"), fp32);
        var meta = CycleGanEdge.Core.Onnx.ModelProto.Parser.ParseFrom(fp32).MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        var inputs = CalibrationSet.Load(calibration, meta, Console.Error);
        foreach (int bits in new[] { 8, 7 })
        {
            var (int8, report) = Int8Quantizer.Quantize(fp32, inputs, new QuantizeOptions { FloatEnds = false, WeightBits = bits });
            File.WriteAllBytes(Path.Combine(outDir, $"{name}.w{bits}.onnx"), int8);
            Console.WriteLine(string.Create(inv, $"{name} w{bits}: here ({CpuInfo.Describe()}) mean {report.MeanPsnr:F1} dB, worst {report.WorstPsnr:F1} dB"));
        }
    }
    return 0;
}
Console.Error.WriteLine("usage: int8_accuracy.cs tiny OUTDIR [IMAGES] | psnr FP32.onnx INT8.onnx FOLDER");
return 2;
