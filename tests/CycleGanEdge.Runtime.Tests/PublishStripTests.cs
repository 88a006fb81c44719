using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>
/// cyclegan-run's publish strips libSkiaSharp.so with a strip that understands the target's ELF files: the host's own for
/// the host's RID, the cross strip for the other (the host's strip fails on an arm64 file). Read from the project's MSBuild
/// evaluation, so no runtime pack is restored.
/// </summary>
public class PublishStripTests
{
    [Theory]
    [InlineData("linux-arm64", "/usr/bin/aarch64-linux-gnu-strip")]
    [InlineData("linux-x64", "/usr/bin/x86_64-linux-gnu-strip")]
    public void Publish_strips_skia_with_the_strip_of_the_target_machine(string rid, string crossStrip)
    {
        string host = "linux-" + RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        Assert.Equal(rid == host ? "/usr/bin/strip" : crossStrip, StripToolFor(rid));
    }

    [Fact]
    public void Other_platforms_get_no_strip()
    {
        Assert.Equal("", StripToolFor("win-x64"));
    }

    private static string StripToolFor(string rid)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { "msbuild", Path.Combine(RepoRoot(), "runtime", "CycleGanEdge.Run", "CycleGanEdge.Run.csproj"),
                     "-nologo", "-getProperty:SkiaStripTool", $"-p:RuntimeIdentifier={rid}" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"dotnet msbuild exited {process.ExitCode}: {output}{stderr.Result}");
        return output.Trim();
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CycleGanEdge.sln")))
                return dir.FullName;
        throw new InvalidOperationException("CycleGanEdge.sln not found above " + AppContext.BaseDirectory);
    }
}
