using CycleGanEdge.Core.CommandLine;
using System.CommandLine;
using CycleGanEdge.Core;
using CycleGanEdge.Runtime;
using CycleGanEdge.Runtime.Video;
using Spectre.Console;

namespace CycleGanEdge.Run.Commands;

/// <summary>cyclegan-run video: translate every frame of a video file, stream or camera, keeping the audio.</summary>
public static class VideoCommand
{
    public static Command Create()
    {
        var model = SharedOptions.Model();
        var input = new Argument<string>("input") { Description = "Video file, stream URL or camera device (e.g. /dev/video0)" };
        var output = new Option<FileInfo>("--output", "-o") { Description = "Output video; the extension picks the container (.mp4, .mkv)", Required = true };
        var format = new Option<string?>("--format", "-f") { Description = "ffmpeg input format, e.g. v4l2 for a camera (default: v4l2 for /dev/video*, else guessed by ffmpeg)" };
        var fps = new Option<double?>("--fps") { Description = "Output frame rate (default: the input's)" }.Between(0, 1000);
        var crf = new Option<int>("--crf") { Description = "Encoder quality: lower is better, 18 is visually lossless for libx264", DefaultValueFactory = _ => 18 }.Between(0, 63);
        var codec = new Option<string>("--codec") { Description = "ffmpeg video encoder", DefaultValueFactory = _ => "libx264" };
        var frames = new Option<long?>("--frames") { Description = "Stop after this many frames" };
        var maxSide = SharedOptions.NonNegative(new Option<int>("--max-side") { Description = "Scale frames down so the longer side is at most this (0 = keep size)" });
        var provider = SharedOptions.Provider();
        var device = SharedOptions.DeviceId();
        var threads = SharedOptions.Threads();
        var temporal = new Option<bool>("--temporal")
        {
            Description = "Reduce flicker: blend each output with the previous one where the input did not change (following a global pan); " +
                          "frames in exact tiles use the previous frame's norm statistics (one pass per frame)",
        };
        var tiling = new SharedOptions.Tiling();

        var command = new Command("video", "Translate every frame of a video (file, stream URL or camera); audio is kept from the source")
        {
            model, input, output, format, fps, crf, codec, frames, maxSide, provider, device, threads, temporal,
        };
        tiling.AddTo(command);
        command.Validators.Add(r =>
        {
            if (r.GetValue(frames) is <= 0) r.AddError("--frames must be positive");
            if (r.GetValue(fps) is <= 0) r.AddError("--fps must be positive");
            if (r.GetValue(maxSide) == 1) r.AddError("--max-side must be 0 (keep size) or at least 2: frames have even sides");
        });
        command.SetAction((parse, stop) =>
        {
            string source = parse.GetValue(input)!;
            var options = new VideoOptions
            {
                Input = source,
                Output = parse.GetValue(output)!.FullName,
                InputFormat = parse.GetValue(format) ?? (source.StartsWith("/dev/video", StringComparison.Ordinal) ? "v4l2" : null),
                Fps = parse.GetValue(fps),
                Crf = parse.GetValue(crf),
                Codec = parse.GetValue(codec)!,
                MaxFrames = parse.GetValue(frames),
                MaxSide = parse.GetValue(maxSide) is var side and > 0 ? side : null, // 0 keeps the size, as in translate
            };
            var translatorOptions = tiling.Apply(parse, new TranslatorOptions
            {
                Provider = parse.GetValue(provider)!,
                DeviceId = parse.GetValue(device),
                Threads = parse.GetValue(threads),
                // Tiled frames normalise with the previous frame's statistics: one pass per frame.
                CarryStatistics = parse.GetValue(temporal),
            });
            var filter = parse.GetValue(temporal) ? new TemporalFilter() : null;
            return Task.FromResult(Run(options, parse.GetValue(model)!.FullName, translatorOptions, filter, parse.InvocationConfiguration, stop));
        });
        return command;
    }

    /// <summary>Ctrl+C (<paramref name="stop"/>) ends the capture early and still finishes the file: the way to end a camera recording.</summary>
    private static int Run(VideoOptions options, string modelPath, TranslatorOptions translatorOptions, TemporalFilter? filter, InvocationConfiguration io, CancellationToken stop)
    {
        if (!Ffmpeg.IsAvailable)
        {
            io.Error.WriteLine($"error: {Ffmpeg.NotFoundMessage}");
            return ExitCodes.Usage;
        }
        Translator translator;
        try
        {
            translator = Translator.Open(modelPath, translatorOptions);
        }
        catch (Exception e) when (e is InvalidModelException or ProviderUnavailableException or ArgumentException)
        {
            io.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.ForStartError(e);
        }
        using var _ = translator;
        var notes = new HashSet<string>();
        translator.Note = note =>
        {
            if (notes.Add(note)) io.Error.WriteLine(note); // each once per video, not once per frame
        };
        try
        {
            FrameTransform transform = (src, dst, w, h) =>
            {
                translator.Translate(src, dst, w, h, PixelLayout.Rgb24);
                filter?.Apply(src, dst, w, h);
            };
            VideoResult result = null!;
            // Progress goes to stderr: stdout carries only the result line.
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(io.Error) });
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("video");
                    task.IsIndeterminate = true;
                    var progress = new InlineProgress(p =>
                    {
                        if (p.TotalFrames is { } total)
                        {
                            task.IsIndeterminate = false;
                            task.MaxValue = total;
                        }
                        task.Value = p.Frames;
                        string eta = p.Eta is { } e ? $", ETA {e:hh\\:mm\\:ss}" : "";
                        task.Description = $"{p.Frames} frames, {p.FramesPerSecond:F1} fps{eta}";
                    });
                    result = VideoTranslation.Run(options, transform, progress, stop);
                });
            io.Output.WriteLine(
                $"{options.Output}: {result.Frames} frames {result.Width}x{result.Height} at {result.Fps:0.###} fps, " +
                $"{result.FramesPerSecond:F1} frames/s end to end, inference {result.InferenceShare:P0} of the time " +
                $"(waiting for the decoder {result.DecoderWaitShare:P0}, the encoder {result.EncoderWaitShare:P0}; {translator.Provider}), " +
                $"audio {(result.AudioKept ? "kept" : "none")}" +
                (translator.LastTilePasses > 0 ? $", tiles of {translator.TileSideFor(result.Width, result.Height)} px ({translator.LastTilePasses} pass(es) per frame)" : "") +
                (translator.LastUsedCarriedStatistics ? ", statistics carried from the previous frame" : "") +
                (filter is null ? "" : ", temporal filter on"));
            return stop.IsCancellationRequested ? ExitCodes.Interrupted : ExitCodes.Success;
        }
        catch (Exception e) when (e is FfmpegException or IOException or UnauthorizedAccessException or InvalidModelException or InvalidOperationException)
        {
            io.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to the thread pool and lag behind).</summary>
    private sealed class InlineProgress(Action<VideoProgress> report) : IProgress<VideoProgress>
    {
        public void Report(VideoProgress value) => report(value);
    }
}
