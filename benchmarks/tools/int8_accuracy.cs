#:project ../../exporter/CycleGanEdge.Exporter/CycleGanEdge.Exporter.csproj
// int8 against fp32 on the CPU this runs on (issue 26). Two modes, so the models can be made natively and measured under
// an emulated older CPU (qemu-x86_64-static -cpu Haswell: ONNX Runtime then takes its AVX2 kernels, as on a Zen 3):
//   dotnet run -c Release benchmarks/tools/int8_accuracy.cs -- tiny OUTDIR          # tiny random generators (ngf 8, 32 px) as the
//        quantization tests build them, every convolution int8, with 8- and 7-bit weights, and generated calibration pictures
//   dotnet run -c Release benchmarks/tools/int8_accuracy.cs -- psnr FP32.onnx INT8.onnx FOLDER   # per-image PSNR over the images of FOLDER
// scripts/int8_cpu_check.sh runs both for the tiny nets and the shipped models.
using System.Globalization;
using CycleGanEdge.Core;
using CycleGanEdge.Core.Imaging;
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
if (args is ["tiny", string outDir])
{
    string calibration = Path.Combine(outDir, "calibration");
    Directory.CreateDirectory(calibration);
    for (int i = 0; i < 6; i++)
        File.WriteAllBytes(Path.Combine(calibration, $"img{i:D2}.png"), ImageCodec.Encode(Picture(i), ImageFormat.Png));
    (string Name, string Arch, string Upsample, string Io)[] nets =
    [
        ("resnet6-convtranspose", "resnet_6blocks", Networks.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("resnet6-resize", "resnet_6blocks", Networks.ResizeUpsampling, ModelContract.IoFloat32Nchw),
        ("unet_128", "unet_128", Networks.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("encoder_decoder", "encoder_decoder", Networks.ConvTransposeUpsampling, ModelContract.IoFloat32Nchw),
        ("resnet6-uint8", "resnet_6blocks", Networks.ConvTransposeUpsampling, ModelContract.IoUint8Nhwc),
    ];
    foreach (var (name, arch, upsample, io) in nets)
    {
        var options = new GeneratorOptions { Arch = arch, Ngf = 8, Upsample = upsample };
        TorchSharp.torch.random.manual_seed(1);
        using var generator = Networks.CreateGenerator(options);
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
Console.Error.WriteLine("usage: int8_accuracy.cs tiny OUTDIR | psnr FP32.onnx INT8.onnx FOLDER");
return 2;

// Smooth colour gradients with a bright square, like the quantization tests' pictures: picture-like, not noise.
static RgbaImage Picture(int seed, int side = 32)
{
    var rng = new Random(seed);
    var pixels = new byte[side * side * 4];
    double fx = rng.NextDouble() * 0.3, fy = rng.NextDouble() * 0.3, phase = rng.NextDouble() * 6;
    int sq = rng.Next(side / 2);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
        {
            int i = (y * side + x) * 4;
            for (int c = 0; c < 3; c++)
            {
                double v = 0.5 + 0.5 * Math.Sin(fx * x * (c + 1) + fy * y + phase + c);
                if (x >= sq && x < sq + 8 && y >= sq && y < sq + 8) v = 1 - 0.5 * c;
                pixels[i + c] = (byte)Math.Round(v * 255);
            }
            pixels[i + 3] = 255;
        }
    return new RgbaImage(side, side, pixels, hasAlpha: false);
}
