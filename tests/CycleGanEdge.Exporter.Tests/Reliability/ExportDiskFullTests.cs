using CycleGanEdge.Tests.Shared;
using CycleGanEdge.Torch.Checkpoints;
using CycleGanEdge.Torch.Networks;

namespace CycleGanEdge.Exporter.Tests.Reliability;

/// <summary>cyclegan-export onto a full or read-only disk: one clear error, the old .onnx untouched, no temp file.</summary>
public class ExportDiskFullTests
{
    private static string TinyCheckpoint(string dir)
    {
        var arch = new GeneratorOptions { Arch = "resnet_6blocks", Ngf = 8 };
        using var generator = NetworkFactory.CreateGenerator(arch);
        string path = Path.Combine(dir, "latest_net_G_A.ckpt");
        CheckpointFile.SaveModule(path, new CheckpointHeader
        {
            Kind = CheckpointKinds.Generator, Generator = arch, Direction = "AtoB", DomainIn = "a", DomainOut = "b", TrainSize = 32,
        }, generator);
        return path;
    }

    [MountSandboxFact]
    public void Export_onto_a_full_or_read_only_disk_is_one_clear_error_and_keeps_the_old_model()
    {
        string dir = TempFolder.New("cge-export-full");
        string checkpoint = TinyCheckpoint(dir);
        string seed = Path.Combine(dir, "seed");
        Directory.CreateDirectory(seed);
        File.WriteAllText(Path.Combine(seed, "model.onnx"), "the previous export");
        foreach (var (readOnly, reason) in new[] { (false, "disk full"), (true, "read-only file system") })
        {
            string outDir = Path.Combine(dir, "out" + readOnly), snapshot = Path.Combine(dir, "snapshot" + readOnly);
            string onnx = Path.Combine(outDir, "model.onnx");
            var (exit, output, error) = MountSandbox.Run(outDir, sizeKb: 64, readOnly, seed, snapshot,
                MountSandbox.Dotnet("cyclegan-export.dll", "export", checkpoint, "-o", onnx));
            Assert.True(exit == 1, $"exit {exit}\n{output}\n{error}");
            Assert.Contains($"{onnx}: cannot write ({reason})", error);
            Assert.DoesNotContain("   at ", error);
            Assert.Equal(["model.onnx"], Directory.GetFiles(snapshot).Select(Path.GetFileName));
            Assert.Equal("the previous export", File.ReadAllText(Path.Combine(snapshot, "model.onnx")));
        }
    }
}
