using System.Diagnostics;

namespace CycleGanEdge.Tests.Shared;

/// <summary>
/// The one temporary-folder helper of the tests. Every folder lives under one root per test process
/// (<c>/tmp/cyclegan-tests-PID-…</c>); <see cref="Dispose"/> removes a folder at once, the root goes when the process
/// exits, and roots left by a process that was killed are removed by the next run.
/// </summary>
/// <remarks>Compiled into each test project (linked from tests/Shared in its .csproj).</remarks>
internal sealed class TempFolder : IDisposable
{
    private const string RootPrefix = "cyclegan-tests-";
    private static readonly Lazy<string> Root = new(CreateRoot);

    public TempFolder(string prefix = "t")
    {
        Path = Directory.CreateDirectory(System.IO.Path.Combine(Root.Value, $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}")).FullName;
    }

    public string Path { get; }

    /// <summary>A path inside the folder (not created).</summary>
    public string Sub(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>A folder for a test that hands its path around: removed with the root when the test process exits.</summary>
    public static string New(string prefix = "t") => new TempFolder(prefix).Path;

    public void Dispose() => TryDelete(Path);

    private static string CreateRoot()
    {
        foreach (string stale in Directory.EnumerateDirectories(System.IO.Path.GetTempPath(), RootPrefix + "*"))
            if (OwnerIsGone(stale)) TryDelete(stale);
        string root = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(),
            $"{RootPrefix}{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}")).FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    /// <summary>True when the process named in the root's name (cyclegan-tests-PID-x) no longer runs.</summary>
    private static bool OwnerIsGone(string root)
    {
        string[] parts = System.IO.Path.GetFileName(root)[RootPrefix.Length..].Split('-');
        if (!int.TryParse(parts[0], out int pid)) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: a file still open (a child process, a read-only mount) keeps it until the next run
        }
    }
}
