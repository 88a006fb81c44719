#:project ../../exporter/CycleGanEdge.Exporter/CycleGanEdge.Exporter.csproj
// An untrained generator as ONNX, for speed measurements only (its weights are TorchSharp's seeded init):
//   dotnet run benchmarks/tools/untrained_generator.cs -- OUT.onnx [arch] [ngf] [fp16] [resize]
// fp16: half-precision export (as cyclegan-export export --fp16); resize: nearest x2 + 3x3 conv upsampling instead of ConvTranspose.
using CycleGanEdge.Exporter;
using CycleGanEdge.Torch.Networks;

string output = args.Length > 0 ? args[0] : throw new ArgumentException("usage: untrained_generator.cs OUT.onnx [arch] [ngf] [fp16] [resize]");
var options = new GeneratorOptions
{
    Arch = args.Length > 1 ? args[1] : "resnet_9blocks",
    Ngf = args.Length > 2 ? int.Parse(args[2]) : 64,
    Upsample = args.Contains("resize") ? NetworkFactory.ResizeUpsampling : NetworkFactory.ConvTransposeUpsampling,
};
var export = new ExportOptions { Fp16 = args.Contains("fp16") };
TorchSharp.torch.random.manual_seed(1);
File.WriteAllBytes(output, OnnxExport.ToBytes(NetworkFactory.CreateGenerator(options), options, export, new ModelIdentity()));
Console.WriteLine($"{output}: {options.Arch} ngf {options.Ngf}, upsample {options.Upsample}{(export.Fp16 ? ", fp16" : "")}, untrained (seed 1)");
