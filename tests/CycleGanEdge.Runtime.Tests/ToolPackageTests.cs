using CycleGanEdge.Tests.Shared;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using CycleGanEdge.Core.Imaging;

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

    /// <summary>
    /// The library package for apps that embed the runtime carries its own README, named in its nuspec, and depends on the
    /// package of the shared base (CycleGanEdge.Core, same version, its own README) instead of carrying a copy of it.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void The_runtime_library_packs_with_its_readme_and_depends_on_the_core_package()
    {
        string root = RepoRoot(), feed = Path.Combine(_dir, "feed");
        Dotnet(root, "pack", "runtime/CycleGanEdge.Runtime", "-c", "Release", "-o", feed, "-nologo", "-v", "q");
        Dotnet(root, "pack", "runtime/CycleGanEdge.Core", "-c", "Release", "-o", feed, "-nologo", "-v", "q");

        string runtimeNuspec = PackedWithReadme(feed, "CycleGanEdge.Runtime", Path.Combine(root, "runtime", "CycleGanEdge.Runtime", "README.md"));
        string coreNuspec = PackedWithReadme(feed, "CycleGanEdge.Core", Path.Combine(root, "runtime", "CycleGanEdge.Core", "README.md"));
        string version = Regex.Match(coreNuspec, "<version>([^<]+)</version>").Groups[1].Value;
        Assert.NotEqual("", version);
        Assert.Contains($"<dependency id=\"CycleGanEdge.Core\" version=\"{version}\"", runtimeNuspec);
        Assert.DoesNotContain("Microsoft.ML.OnnxRuntime", coreNuspec);
    }

    /// <summary>Checks the package of <paramref name="id"/> in <paramref name="feed"/> holds its assembly only and that README; returns its nuspec.</summary>
    private static string PackedWithReadme(string feed, string id, string readmePath)
    {
        using var package = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(feed, id + ".*.nupkg")));
        using (var readme = new StreamReader(package.GetEntry("README.md")!.Open()))
            Assert.Equal(File.ReadAllText(readmePath), readme.ReadToEnd());
        Assert.Equal([$"lib/net10.0/{id}.dll"], package.Entries.Select(e => e.FullName).Where(n => n.EndsWith(".dll", StringComparison.Ordinal)));
        using var nuspec = new StreamReader(package.GetEntry(id + ".nuspec")!.Open());
        string text = nuspec.ReadToEnd();
        Assert.Contains("<readme>README.md</readme>", text);
        return text;
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
