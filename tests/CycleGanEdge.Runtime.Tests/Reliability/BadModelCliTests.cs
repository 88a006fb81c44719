using System.Diagnostics;
using CycleGanEdge.Core.Onnx;
using CycleGanEdge.Core.Imaging;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime.Tests.Cli;
using Google.Protobuf;

namespace CycleGanEdge.Runtime.Tests.Reliability;

/// <summary>Every cyclegan-run command meets a bad model with one "error: PATH: reason" line and exit 1 (the work failed), never a stack trace.</summary>
public class BadModelCliTests
{
    private static string[] Commands(string model, string dir) =>
    [
        $"translate|-m|{model}|{dir}/in|-o|{dir}/out",
        $"info|-m|{model}",
        $"bench|-m|{model}|--sizes|16|--iters|1|--warmup|0|--no-peak",
        $"eval|-m|{model}|--input|{dir}/in|-o|{dir}/report",
    ];

    private static string Folder()
    {
        string dir = TestFiles.TempFolder();
        Directory.CreateDirectory(Path.Combine(dir, "in"));
        for (int i = 0; i < 2; i++)
            File.WriteAllBytes(Path.Combine(dir, "in", $"{i}.png"), ImageCodec.Encode(TestImages.Random(16, 16, seed: i), ImageFormat.Png));
        return dir;
    }

    private static void AssertOneLine(string model, int exitCode, string error, string reason)
    {
        Assert.True(exitCode == 1, $"exit {exitCode}: {error}");
        Assert.Contains($"error: {model}: ", error);
        Assert.Contains(reason, error);
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.DoesNotContain("Exception", error);
    }

    [Fact]
    public async Task Truncated_random_and_lying_models_fail_every_command_cleanly()
    {
        string dir = Folder();
        byte[] good = TestModels.SmallConvNet("none");
        var random = new byte[3000];
        new Random(5).NextBytes(random);
        var lying = ModelProto.Parser.ParseFrom(good);
        lying.MetadataProps.Single(p => p.Key == ModelContract.ChannelsInKey).Value = "1";
        var wrongOutput = ModelProto.Parser.ParseFrom(good);
        wrongOutput.Graph.Output[0].Name = "result";
        wrongOutput.Graph.Node.Last().Output[0] = "result";
        var cases = new (string Name, byte[] Bytes, string Reason)[]
        {
            ("truncated.onnx", good[..(good.Length / 2)], "not an ONNX model (damaged or truncated"),
            ("random.onnx", random, "not an ONNX model"),
            ("lying.onnx", lying.ToByteArray(), "metadata says 1 input channel(s) but the graph's input has 3"),
            ("wrong-output.onnx", wrongOutput.ToByteArray(), "no output named 'output'"),
        };
        foreach (var (name, bytes, reason) in cases)
        {
            string model = Path.Combine(dir, name);
            File.WriteAllBytes(model, bytes);
            foreach (string command in Commands(model, dir))
            {
                var r = await CliRunner.RunAsync(command.Split('|'));
                AssertOneLine(model, r.ExitCode, r.Error, reason);
            }
        }
        Assert.False(Directory.Exists(Path.Combine(dir, "out")) && Directory.EnumerateFiles(Path.Combine(dir, "out")).Any());
    }

    [Fact]
    public async Task Model_size_limit_is_configurable_and_applies_to_every_command()
    {
        // A valid 1.5 MB model (padded with a doc string) against CYCLEGAN_MAX_MODEL_MB=1, in the real executable.
        string dir = Folder();
        var padded = ModelProto.Parser.ParseFrom(TestModels.SmallConvNet("none"));
        padded.DocString = new string('x', 1_500_000);
        string model = TestModels.Save(padded.ToByteArray(), dir);
        foreach (string command in Commands(model, dir))
        {
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-run.dll"), .. command.Split('|')])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment[ModelFileCheck.MaxSizeVariable] = "1";
            using var process = Process.Start(start)!;
            string error = await process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            AssertOneLine(model, process.ExitCode, error, "1.4 MB is above the model size limit of 1 MB (set CYCLEGAN_MAX_MODEL_MB to raise it)");
        }
        var ok = await CliRunner.RunAsync("info", "-m", model); // default limit: loads
        Assert.Equal(0, ok.ExitCode);
    }
}
