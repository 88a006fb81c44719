using System.Diagnostics;
using System.Text;

namespace CycleGanEdge.Runtime.Video;

/// <summary>A failure of ffmpeg/ffprobe or of their input, with a message fit for the user.</summary>
public sealed class FfmpegException(string message) : Exception(message);

/// <summary>Finds and starts the ffmpeg and ffprobe executables from PATH.</summary>
public static class Ffmpeg
{
    public const string NotFoundMessage = "ffmpeg not found: run scripts/setup.sh (installs it from Debian's packages)";

    /// <summary>True when both ffmpeg and ffprobe are on PATH.</summary>
    public static bool IsAvailable => Locate("ffmpeg") is not null && Locate("ffprobe") is not null;

    /// <summary>Full path of a tool on PATH, or null.</summary>
    public static string? Locate(string tool)
    {
        string file = OperatingSystem.IsWindows() ? tool + ".exe" : tool;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Starts a tool with redirected streams; stderr is collected in the background (last lines kept).</summary>
    public static RunningTool Start(string tool, IEnumerable<string> args, bool redirectStdin, bool redirectStdout)
    {
        string exe = Locate(tool) ?? throw new FfmpegException(NotFoundMessage);
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = redirectStdin,
            RedirectStandardOutput = redirectStdout,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new FfmpegException($"could not start {exe}");
        return new RunningTool(tool, process);
    }

    /// <summary>Runs a tool to completion and returns its stdout; a non-zero exit becomes an <see cref="FfmpegException"/>.</summary>
    public static string RunToEnd(string tool, IEnumerable<string> args, string what)
    {
        using var run = Start(tool, args, redirectStdin: false, redirectStdout: true);
        string stdout = run.Process.StandardOutput.ReadToEnd();
        run.WaitForExit(what);
        return stdout;
    }
}

/// <summary>An ffmpeg/ffprobe process whose stderr is drained (so it never blocks) and whose tail is kept for errors.</summary>
public sealed class RunningTool : IDisposable
{
    private const int KeptLines = 12;
    private readonly Queue<string> _tail = new();
    private readonly Task _stderrPump;

    public RunningTool(string tool, Process process)
    {
        Tool = tool;
        Process = process;
        _stderrPump = Task.Run(() =>
        {
            string? line;
            while ((line = process.StandardError.ReadLine()) is not null)
            {
                lock (_tail)
                {
                    _tail.Enqueue(line);
                    if (_tail.Count > KeptLines) _tail.Dequeue();
                }
            }
        });
    }

    public string Tool { get; }
    public Process Process { get; }

    public string StderrTail()
    {
        lock (_tail) return string.Join(Environment.NewLine, _tail);
    }

    /// <summary>Waits for exit; a non-zero code throws with the stderr tail, naming <paramref name="what"/>.</summary>
    public void WaitForExit(string what)
    {
        Process.WaitForExit();
        _stderrPump.Wait();
        if (Process.ExitCode != 0)
        {
            var message = new StringBuilder($"{what}: {Tool} exited with code {Process.ExitCode}");
            string tail = StderrTail();
            if (tail.Length > 0) message.Append(Environment.NewLine).Append(tail);
            throw new FfmpegException(message.ToString());
        }
    }

    public void Kill()
    {
        try
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        Process.Dispose();
    }
}
