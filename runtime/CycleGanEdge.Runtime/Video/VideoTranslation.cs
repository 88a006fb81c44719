using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace CycleGanEdge.Runtime.Video;

/// <summary>Translates one packed RGB24 frame into another of the same size.</summary>
public delegate void FrameTransform(ReadOnlySpan<byte> sourceRgb24, Span<byte> destinationRgb24, int width, int height);

public sealed record VideoOptions
{
    /// <summary>Any ffmpeg input: a file, a stream URL, or a device such as /dev/video0 (with <see cref="InputFormat"/> v4l2).</summary>
    public required string Input { get; init; }
    /// <summary>Output file; its extension picks the container (.mp4, .mkv, ...).</summary>
    public required string Output { get; init; }
    /// <summary>ffmpeg's -f for the input (v4l2, lavfi, ...), or null to let ffmpeg guess.</summary>
    public string? InputFormat { get; init; }
    /// <summary>Output frame rate; null keeps the input's.</summary>
    public double? Fps { get; init; }
    public int Crf { get; init; } = 18;
    public string Codec { get; init; } = "libx264";
    /// <summary>Stop after this many frames.</summary>
    public long? MaxFrames { get; init; }
    /// <summary>Scale frames down (keeping aspect) so the longer side is at most this.</summary>
    public int? MaxSide { get; init; }
    /// <summary>Frame buffers in flight per direction: decode one ahead, translate one, encode one behind.</summary>
    public int BuffersInFlight { get; init; } = 3;
}

public sealed record VideoProgress(long Frames, long? TotalFrames, double FramesPerSecond, TimeSpan Elapsed)
{
    public TimeSpan? Eta => TotalFrames is { } total && FramesPerSecond > 0
        ? TimeSpan.FromSeconds(Math.Max(0, total - Frames) / FramesPerSecond) : null;
}

/// <summary>
/// What a run did and where its wall time went, seen from the thread that runs the model: inside the
/// transform, waiting for a decoded frame (<see cref="DecoderWait"/>, including ffmpeg's start), or waiting
/// for the encoder to take a frame (<see cref="EncoderWait"/>). Decode and encode overlap inference, so
/// they only cost wall time when they show up as waits.
/// </summary>
public sealed record VideoResult(long Frames, int Width, int Height, double Fps, TimeSpan Elapsed, TimeSpan InferenceTime, bool AudioKept,
    TimeSpan DecoderWait = default, TimeSpan EncoderWait = default)
{
    public double FramesPerSecond => Elapsed.TotalSeconds > 0 ? Frames / Elapsed.TotalSeconds : 0;
    /// <summary>Share of the wall time spent inside the frame transform.</summary>
    public double InferenceShare => Share(InferenceTime);
    public double DecoderWaitShare => Share(DecoderWait);
    public double EncoderWaitShare => Share(EncoderWait);

    private double Share(TimeSpan part) => Elapsed.TotalSeconds > 0 ? part.TotalSeconds / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Per-frame video translation through two ffmpeg processes: one decodes the input to raw rgb24 on its
/// stdout, the other encodes raw rgb24 from its stdin and takes the audio from the source. Decoding,
/// translating and encoding run concurrently on a small fixed set of reused frame buffers.
/// </summary>
public static class VideoTranslation
{
    public static VideoResult Run(VideoOptions options, FrameTransform transform, IProgress<VideoProgress>? progress = null, CancellationToken stop = default)
    {
        if (!Ffmpeg.IsAvailable) throw new FfmpegException(Ffmpeg.NotFoundMessage);
        string ext = Path.GetExtension(options.Output);
        if (ext.Length == 0) throw new FfmpegException($"'{options.Output}': give the output an extension (.mp4, .mkv) to choose the container");

        VideoInfo info = VideoProbe.Probe(options.Input, options.InputFormat);
        (int width, int height) = OutputSize(info.Width, info.Height, options.MaxSide);
        double fps = options.Fps ?? info.Fps;
        long? total = info.ExpectedFrames is { } e && options.Fps is { } f ? (long)Math.Round(e * f / info.Fps) : info.ExpectedFrames;
        if (options.MaxFrames is { } max) total = total is { } t ? Math.Min(t, max) : max;
        // The audio is read from the source a second time by the encoder: only safe for plain files.
        bool keepAudio = info.HasAudio && File.Exists(options.Input) && options.InputFormat is null;

        string fullOutput = Path.GetFullPath(options.Output);
        string dir = Path.GetDirectoryName(fullOutput)!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileNameWithoutExtension(fullOutput)}.{Guid.NewGuid():N}.partial{ext}");

        using var decoder = Ffmpeg.Start("ffmpeg", DecoderArgs(options, info, width, height), redirectStdin: false, redirectStdout: true);
        RunningTool? encoder = null;
        try
        {
            encoder = Ffmpeg.Start("ffmpeg", EncoderArgs(options, width, height, fps, keepAudio, temp), redirectStdin: true, redirectStdout: false);
            var pumped = Pump(decoder, encoder, width, height, options, total, transform, progress, stop);
            if (pumped.Frames == 0) throw new FfmpegException($"no frames decoded from '{options.Input}'");
            encoder.WaitForExit($"cannot encode '{options.Output}'");
            File.Move(temp, fullOutput, overwrite: true);
            return new VideoResult(pumped.Frames, width, height, fps, pumped.Elapsed, pumped.Inference, keepAudio, pumped.DecoderWait, pumped.EncoderWait);
        }
        finally
        {
            encoder?.Dispose();
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>The decoded frame size: scaled down to <paramref name="maxSide"/> if given, and made even (yuv420p needs it).</summary>
    public static (int Width, int Height) OutputSize(int width, int height, int? maxSide)
    {
        double scale = maxSide is { } m && Math.Max(width, height) > m ? (double)m / Math.Max(width, height) : 1.0;
        int w = Math.Max(2, (int)Math.Round(width * scale) / 2 * 2);
        int h = Math.Max(2, (int)Math.Round(height * scale) / 2 * 2);
        return (w, h);
    }

    private static List<string> DecoderArgs(VideoOptions o, VideoInfo info, int width, int height)
    {
        var args = new List<string> { "-nostdin", "-v", "error" };
        if (o.InputFormat is not null) args.AddRange(["-f", o.InputFormat]);
        args.AddRange(["-i", o.Input, "-map", "0:v:0"]);
        var filters = new List<string>();
        if (o.Fps is { } fps) filters.Add("fps=" + fps.ToString(CultureInfo.InvariantCulture));
        if (width != info.Width || height != info.Height) filters.Add($"scale={width}:{height}:flags=area");
        if (filters.Count > 0) args.AddRange(["-vf", string.Join(',', filters)]);
        if (o.MaxFrames is { } n) args.AddRange(["-frames:v", n.ToString(CultureInfo.InvariantCulture)]);
        args.AddRange(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        return args;
    }

    private static List<string> EncoderArgs(VideoOptions o, int width, int height, double fps, bool keepAudio, string temp)
    {
        string rate = fps.ToString("R", CultureInfo.InvariantCulture);
        var args = new List<string>
        {
            "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-r", rate, "-i", "pipe:0",
        };
        if (keepAudio)
        {
            if (o.MaxFrames is { } n) args.AddRange(["-t", (n / fps).ToString("R", CultureInfo.InvariantCulture)]);
            args.AddRange(["-i", o.Input]);
        }
        args.AddRange(["-map", "0:v:0"]);
        if (keepAudio) args.AddRange(["-map", "1:a?", "-c:a", "aac", "-shortest"]);
        args.AddRange(["-c:v", o.Codec, "-crf", o.Crf.ToString(CultureInfo.InvariantCulture), "-pix_fmt", "yuv420p", temp]);
        return args;
    }

    private static (long Frames, TimeSpan Elapsed, TimeSpan Inference, TimeSpan DecoderWait, TimeSpan EncoderWait) Pump(
        RunningTool decoder, RunningTool encoder, int width, int height, VideoOptions options, long? total,
        FrameTransform transform, IProgress<VideoProgress>? progress, CancellationToken stop)
    {
        int frameBytes = checked(width * height * 3);
        int depth = Math.Max(1, options.BuffersInFlight);
        var freeIn = new BlockingCollection<byte[]>();
        var freeOut = new BlockingCollection<byte[]>();
        for (int i = 0; i < depth; i++)
        {
            freeIn.Add(new byte[frameBytes]);
            freeOut.Add(new byte[frameBytes]);
        }
        var decoded = new BlockingCollection<byte[]>(depth);
        var translated = new BlockingCollection<byte[]>(depth);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken.None);
        var stopwatch = Stopwatch.StartNew();
        bool stoppedEarly = false;

        var reader = Task.Run(() =>
        {
            try
            {
                var stdout = decoder.Process.StandardOutput.BaseStream;
                long read = 0;
                while (options.MaxFrames is not { } m || read < m)
                {
                    if (stop.IsCancellationRequested) { stoppedEarly = true; break; }
                    byte[] buffer = freeIn.Take(failed.Token);
                    if (stdout.ReadAtLeast(buffer, frameBytes, throwOnEndOfStream: false) < frameBytes) break;
                    decoded.Add(buffer, failed.Token);
                    read++;
                }
            }
            catch (OperationCanceledException) { }
            finally { decoded.CompleteAdding(); }
        });

        var writer = Task.Run(() =>
        {
            var stdin = encoder.Process.StandardInput.BaseStream;
            try
            {
                foreach (byte[] frame in translated.GetConsumingEnumerable(failed.Token))
                {
                    stdin.Write(frame, 0, frameBytes);
                    freeOut.Add(frame);
                }
            }
            catch (IOException)
            {
                failed.Cancel(); // the encoder died: its exit code and stderr tell why
            }
            catch (OperationCanceledException) { }
            finally
            {
                try { stdin.Close(); } catch (IOException) { }
            }
        });

        long frames = 0;
        long inferenceTicks = 0, decoderWaitTicks = 0, encoderWaitTicks = 0;
        long lastReport = 0;
        try
        {
            long waitFrom = Stopwatch.GetTimestamp();
            foreach (byte[] input in decoded.GetConsumingEnumerable(failed.Token))
            {
                long got = Stopwatch.GetTimestamp();
                decoderWaitTicks += got - waitFrom;
                byte[] output = freeOut.Take(failed.Token);
                long start = Stopwatch.GetTimestamp();
                encoderWaitTicks += start - got;
                transform(input.AsSpan(0, frameBytes), output.AsSpan(0, frameBytes), width, height);
                long end = Stopwatch.GetTimestamp();
                inferenceTicks += end - start;
                freeIn.Add(input);
                translated.Add(output, failed.Token);
                waitFrom = Stopwatch.GetTimestamp();
                encoderWaitTicks += waitFrom - end;
                frames++;
                if (progress is not null && stopwatch.ElapsedMilliseconds - lastReport >= 500)
                {
                    lastReport = stopwatch.ElapsedMilliseconds;
                    progress.Report(new VideoProgress(frames, total, frames / stopwatch.Elapsed.TotalSeconds, stopwatch.Elapsed));
                }
            }
        }
        catch (OperationCanceledException) when (failed.IsCancellationRequested) { }
        catch
        {
            failed.Cancel();
            throw;
        }
        finally
        {
            translated.CompleteAdding();
            writer.Wait();
            if (failed.IsCancellationRequested || stoppedEarly || options.MaxFrames is not null) decoder.Kill();
            reader.Wait();
        }

        if (failed.IsCancellationRequested) encoder.WaitForExit($"cannot encode '{options.Output}'");
        bool decoderKilled = stoppedEarly || (options.MaxFrames is { } limit && frames >= limit);
        if (!decoderKilled) decoder.WaitForExit($"cannot decode '{options.Input}'");
        stopwatch.Stop();
        progress?.Report(new VideoProgress(frames, total ?? frames, frames / Math.Max(1e-9, stopwatch.Elapsed.TotalSeconds), stopwatch.Elapsed));
        return (frames, stopwatch.Elapsed, Stopwatch.GetElapsedTime(0, inferenceTicks),
            Stopwatch.GetElapsedTime(0, decoderWaitTicks), Stopwatch.GetElapsedTime(0, encoderWaitTicks));
    }
}
