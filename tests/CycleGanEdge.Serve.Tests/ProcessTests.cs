using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Serve.Tests;

/// <summary>The real cyclegan-serve executable: its command line, its --help, and how it stops.</summary>
public partial class ProcessTests
{
    private static ProcessStartInfo Start(params string[] args) => new("dotnet", [Path.Combine(AppContext.BaseDirectory, "cyclegan-serve.dll"), .. args])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var p = Process.Start(Start(args))!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(limit.Token);
        return (p.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Help_text_matches_the_approved_text()
    {
        var r = await RunAsync("--help");
        Assert.Equal(0, r.Code);
        ApprovedText.AssertMatches(Path.Combine(ThisFolder(), "Approved"), "cyclegan-serve.help", r.Output);
    }

    [Theory]
    [InlineData("missing.onnx", "missing.onnx: file not found", 2)]
    [InlineData("--max-batch 0", "error: --max-batch: must be at least 1.", 2)]
    public async Task Bad_command_lines_are_one_line_errors(string args, string says, int code)
    {
        string[] parts = args.Contains("--") ? ["-m", ServiceHost.EmojiModel, .. args.Split(' ')] : ["-m", args];
        var r = await RunAsync(parts);
        Assert.Equal(code, r.Code);
        Assert.Contains(says, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task A_file_that_is_not_a_model_fails_to_start_with_one_line()
    {
        using var folder = new TempFolder();
        string notModel = folder.Sub("g.onnx");
        await File.WriteAllTextAsync(notModel, "not onnx");
        var r = await RunAsync("-m", notModel, "--urls", "http://127.0.0.1:0");
        Assert.Equal(1, r.Code);
        Assert.StartsWith("error: ", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Sigterm_finishes_the_request_in_flight_and_exits_0()
    {
        using var p = Process.Start(Start("-m", ServiceHost.EmojiModel, "--urls", "http://127.0.0.1:0", "--sessions", "1"))!;
        var lines = new List<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (lines) lines.Add(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) listening.TrySetResult(new Uri(m.Groups[1].Value));
        };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var client = new HttpClient { BaseAddress = address };
            var clock = Stopwatch.StartNew();
            while ((await client.GetAsync("v2/health/ready")).StatusCode != HttpStatusCode.OK && clock.Elapsed < TimeSpan.FromSeconds(60))
                await Task.Delay(50);

            // A request in flight (half uploaded) when SIGTERM arrives.
            byte[] body = await File.ReadAllBytesAsync(ServiceHost.RawEmoji[0]);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(address.Host, address.Port);
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(
                $"POST /v1/models/noto2twemoji/translate HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: image/png\r\nContent-Length: {body.Length}\r\n\r\n"));
            await socket.SendAsync(body.AsMemory(0, body.Length / 2));
            await Task.Delay(300);
            using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) await kill.WaitForExitAsync();
            await Task.Delay(500);
            await socket.SendAsync(body.AsMemory(body.Length / 2));
            string answer = await ServiceHost.ReadResponseAsync(socket, TimeSpan.FromSeconds(30));
            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);

            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(limit.Token);
            Assert.Equal(0, p.ExitCode);
            lock (lines) Assert.Contains("cyclegan-serve: stopped", lines);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }

    [GeneratedRegex(@"listening on (http://\S+?);")]
    private static partial Regex Listening();

    private static string ThisFolder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
