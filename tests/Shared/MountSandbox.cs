using System.Diagnostics;

namespace CycleGanEdge.Tests.Shared;

/// <summary>
/// Runs a command with a small tmpfs (disk full) or a read-only mount over a folder, in a user and mount namespace
/// (<c>unshare -Urm</c>: no root needed, and chmod would not stop root anyway). The mount disappears with the
/// namespace, so the folder's final content is copied to a snapshot folder before the namespace ends.
/// </summary>
/// <remarks>Compiled into each test project that needs it (linked from tests/Shared in its .csproj).</remarks>
internal static class MountSandbox
{
    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        try
        {
            var probe = Process.Start(new ProcessStartInfo("unshare", ["-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"])
            { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string error = probe.StandardError.ReadToEnd();
            probe.WaitForExit();
            return probe.ExitCode == 0 ? null : $"unshare -Urm cannot mount here: {error.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"unshare not available: {e.Message}";
        }
    });

    /// <summary>Why mount sandboxes cannot run on this machine, or null when they can.</summary>
    public static string? WhyUnavailable => OperatingSystem.IsLinux() ? Unavailable.Value : "needs Linux mount namespaces";

    /// <summary>
    /// Mounts a tmpfs of <paramref name="sizeKb"/> KiB over <paramref name="folder"/> (read-only when asked), copies
    /// <paramref name="seed"/> into it first, runs the command, then copies the folder to <paramref name="snapshot"/>.
    /// </summary>
    public static (int ExitCode, string Output, string Error) Run(string folder, int sizeKb, bool readOnly, string? seed, string snapshot, params string[] command)
    {
        Directory.CreateDirectory(folder);
        Directory.CreateDirectory(snapshot);
        const string script = """
            set -e
            d="$1"; size="$2"; ro="$3"; seed="$4"; snap="$5"; shift 5
            mount -t tmpfs -o size=${size}k tmpfs "$d"
            if [ -n "$seed" ]; then cp -a "$seed/." "$d/"; fi
            if [ "$ro" = 1 ]; then mount -o remount,ro,bind "$d"; fi
            set +e
            "$@"
            rc=$?
            cp -a "$d/." "$snap/"
            exit $rc
            """;
        var start = new ProcessStartInfo("unshare", ["-Urm", "sh", "-c", script, "sh", folder, sizeKb.ToString(System.Globalization.CultureInfo.InvariantCulture),
            readOnly ? "1" : "0", seed ?? "", snapshot, .. command])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, error);
    }

    /// <summary>Arguments that start one of the test output folder's executables (cyclegan-run.dll, cyclegan-export.dll, cyclegan-train.dll).</summary>
    public static string[] Dotnet(string dll, params string[] args) => ["dotnet", Path.Combine(AppContext.BaseDirectory, dll), .. args];
}

/// <summary>A fact skipped, with the reason, where user namespaces cannot mount (so it never passes silently).</summary>
public sealed class MountSandboxFactAttribute : FactAttribute
{
    public MountSandboxFactAttribute()
    {
        if (MountSandbox.WhyUnavailable is { } reason) Skip = reason;
    }
}
