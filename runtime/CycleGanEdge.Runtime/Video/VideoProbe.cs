using System.Globalization;
using System.Text.Json;

namespace CycleGanEdge.Runtime.Video;

/// <summary>What ffprobe says about an input: first video stream's size and rate, and whether audio exists.</summary>
public sealed record VideoInfo(int Width, int Height, double Fps, double? DurationSeconds, long? FrameCount, bool HasAudio)
{
    /// <summary>Frames expected from the whole input, when known (file inputs; not cameras or live streams).</summary>
    public long? ExpectedFrames => FrameCount ?? (DurationSeconds is { } d && Fps > 0 ? (long)Math.Round(d * Fps) : null);
}

public static class VideoProbe
{
    /// <summary>Runs ffprobe (JSON output) on an input; <paramref name="inputFormat"/> is ffmpeg's -f (e.g. v4l2) or null.</summary>
    public static VideoInfo Probe(string input, string? inputFormat = null)
    {
        var args = new List<string> { "-v", "error", "-print_format", "json", "-show_streams", "-show_format" };
        if (inputFormat is not null) args.AddRange(["-f", inputFormat]);
        args.Add(input);
        string json = Ffmpeg.RunToEnd("ffprobe", args, $"cannot read video '{input}'");
        return Parse(json, input);
    }

    /// <summary>Parses ffprobe's JSON (-show_streams -show_format).</summary>
    public static VideoInfo Parse(string json, string input)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        JsonElement? video = null;
        bool hasAudio = false;
        if (root.TryGetProperty("streams", out var streams))
        {
            foreach (var s in streams.EnumerateArray())
            {
                string type = s.TryGetProperty("codec_type", out var t) ? t.GetString() ?? "" : "";
                if (type == "video" && video is null && !IsAttachedPicture(s)) video = s;
                if (type == "audio") hasAudio = true;
            }
        }
        if (video is not { } v) throw new FfmpegException($"'{input}' has no video stream");

        int width = v.TryGetProperty("width", out var w) ? w.GetInt32() : 0;
        int height = v.TryGetProperty("height", out var h) ? h.GetInt32() : 0;
        if (width <= 0 || height <= 0) throw new FfmpegException($"'{input}': video stream has no size");

        double fps = Rate(v, "avg_frame_rate") ?? Rate(v, "r_frame_rate") ?? 0;
        if (fps <= 0 || fps > 1000) throw new FfmpegException($"'{input}': unknown frame rate; give --fps");

        double? duration = Number(v, "duration");
        if (duration is null && root.TryGetProperty("format", out var format)) duration = Number(format, "duration");
        long? frames = v.TryGetProperty("nb_frames", out var nb) && long.TryParse(nb.GetString(), CultureInfo.InvariantCulture, out long n) && n > 0 ? n : null;
        return new VideoInfo(width, height, fps, duration, frames, hasAudio);
    }

    private static bool IsAttachedPicture(JsonElement s) =>
        s.TryGetProperty("disposition", out var d) && d.TryGetProperty("attached_pic", out var a) && a.GetInt32() == 1;

    private static double? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var p) && double.TryParse(p.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d > 0 ? d : null;

    /// <summary>Parses a rate like "30000/1001"; "0/0" means unknown.</summary>
    private static double? Rate(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var p) || p.GetString() is not { } s) return null;
        string[] parts = s.Split('/');
        if (parts.Length != 2
            || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double num)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double den)
            || den == 0 || num <= 0) return null;
        return num / den;
    }
}
