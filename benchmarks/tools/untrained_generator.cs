#:project ../../exporter/CycleGanEdge.Exporter/CycleGanEdge.Exporter.csproj
// An untrained generator as ONNX, for speed measurements only (its weights are TorchSharp's seeded init):
//   dotnet run benchmarks/tools/untrained_generator.cs -- OUT.onnx [arch] [ngf] [fp16]
using CycleGanEdge.Exporter;
using CycleGanEdge.Torch.Networks;

string output = args.Length > 0 ? args[0] : throw new ArgumentException("usage: untrained_generator.cs OUT.onnx [arch] [ngf]");
var options = new GeneratorOptions { Arch = args.Length > 1 ? args[1] : "resnet_9blocks", Ngf = args.Length > 2 ? int.Parse(args[2]) : 64 };
TorchSharp.torch.random.manual_seed(1);
var export = new ExportOptions { Fp16 = args.Length > 3 && args[3] == "fp16" };
File.WriteAllBytes(output, OnnxExport.ToBytes(Networks.CreateGenerator(options), options, export, new ModelIdentity()));
Console.WriteLine($"{output}: {options.Arch} ngf {options.Ngf}{(export.Fp16 ? " fp16" : "")}, untrained (seed 1)");
