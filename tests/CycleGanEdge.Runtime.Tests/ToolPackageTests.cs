using CycleGanEdge.Tests.Shared;
using System.Diagnostics;
using System.IO.Compression;
using CycleGanEdge.Runtime.Imaging;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>cyclegan-run installs like any .NET tool: packed into a local folder feed, installed into a tool path, run.</summary>
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _dir = TempFolder.New("cyclegan-tool");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Packs the project (a Release build and publish: tens of seconds), so it is marked Slow.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Installs_from_a_local_feed_and_translates_an_image()
    {
        string root = RepoRoot();
        string feed = Path.Combine(_dir, "feed"), tools = Path.Combine(_dir, "tools"), output = Path.Combine(_dir, "out");
        Dotnet(root, "pack", "runtime/CycleGanEdge.Run", "-c", "Release", "-o", feed, "-nologo", "-v", "q");
        Dotnet(root, "tool", "install", "--tool-path", tools, "--add-source", feed, "cyclegan-run");

        string model = Path.Combine(root, "models", "emoji-noto2twemoji", "noto2twemoji.onnx");
        string image = Path.Combine(root, "models", "emoji-noto2twemoji", "test", "testA", "0037-fe0f-20e3.png");
        Run(Path.Combine(tools, "cyclegan-run"), root, "translate", "-m", model, image, "-o", output, "--threads", "1");

        var translated = ImageCodec.Decode(Path.Combine(output, "0037-fe0f-20e3.png"));
        Assert.Equal((64, 64), (translated.Width, translated.Height));
        // The package carries this platform's ONNX Runtime only (no Windows DLL on Linux) and no debugging symbols.
        var installed = Directory.GetFiles(Path.Combine(tools, ".store"), "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains(OperatingSystem.IsWindows() ? "onnxruntime.dll" : "libonnxruntime.so", installed);
        if (!OperatingSystem.IsWindows())
            Assert.DoesNotContain("onnxruntime.dll", installed);
        Assert.DoesNotContain(installed, f => f!.EndsWith(".pdb", StringComparison.Ordinal));
    }

    /// <summary>The library package for apps that embed the runtime carries its own README, named in its nuspec.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void The_runtime_library_packs_with_its_readme()
    {
        string root = RepoRoot(), feed = Path.Combine(_dir, "feed");
        Dotnet(root, "pack", "runtime/CycleGanEdge.Runtime", "-c", "Release", "-o", feed, "-nologo", "-v", "q");

        using var package = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(feed, "CycleGanEdge.Runtime.*.nupkg")));
        using (var readme = new StreamReader(package.GetEntry("README.md")!.Open()))
            Assert.Equal(File.ReadAllText(Path.Combine(root, "runtime", "CycleGanEdge.Runtime", "README.md")), readme.ReadToEnd());
        using var nuspec = new StreamReader(package.GetEntry("CycleGanEdge.Runtime.nuspec")!.Open());
        Assert.Contains("<readme>README.md</readme>", nuspec.ReadToEnd());
        Assert.NotNull(package.GetEntry("lib/net10.0/CycleGanEdge.Runtime.dll"));
    }

    private static void Dotnet(string workingDirectory, params string[] args) => Run("dotnet", workingDirectory, args);

    private static void Run(string fileName, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{fileName} {string.Join(' ', args)} exited {process.ExitCode}:\n{stdout.Result}\n{stderr}");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln")))
                return dir.FullName;
        throw new InvalidOperationException("CycleGanEdge.sln not found above " + AppContext.BaseDirectory);
    }
}
