using System.Globalization;
using CycleGanEdge.Run.Commands;
using CycleGanEdge.Runtime.Video;

namespace CycleGanEdge.Runtime.Tests.Video;

/// <summary>A fact that is skipped, with the reason, when ffmpeg/ffprobe are not on PATH.</summary>
public sealed class FfmpegFactAttribute : FactAttribute
{
    public FfmpegFactAttribute()
    {
        if (!Ffmpeg.IsAvailable) Skip = "ffmpeg not installed (scripts/setup.sh installs it)";
    }
}

public class VideoTranslationTests
{
    private const int Width = 64, Height = 48, Rate = 10;
    private const double Seconds = 1.5;

    /// <summary>testsrc picture + 440 Hz sine, encoded nearly losslessly so the decoded input is well defined.</summary>
    private static string MakeClip(string folder)
    {
        string path = Path.Combine(folder, "clip.mp4");
        string s = Seconds.ToString(CultureInfo.InvariantCulture);
        Ffmpeg.RunToEnd("ffmpeg",
        [
            "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", $"testsrc=size={Width}x{Height}:rate={Rate}:duration={s}",
            "-f", "lavfi", "-i", $"sine=frequency=440:duration={s}",
            "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path,
        ], "making the test clip");
        return path;
    }

    /// <summary>The negative-image model: every output frame is far from its input, so an untranslated frame shows.</summary>
    private static string NegateModel(string folder) => TestModels.Save(TestModels.Negate(new()), folder, "g.onnx");

    private static byte[] DecodeAll(string path, int width, int height)
    {
        using var ms = new MemoryStream();
        using var run = Ffmpeg.Start("ffmpeg", ["-nostdin", "-v", "error", "-i", path, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], redirectStdin: false, redirectStdout: true);
        run.Process.StandardOutput.BaseStream.CopyTo(ms);
        run.WaitForExit("decoding " + path);
        Assert.Equal(0, ms.Length % (width * height * 3));
        return ms.ToArray();
    }

    [FfmpegFact]
    public void Every_frame_goes_through_the_model_and_the_audio_is_kept()
    {
        string folder = TestFiles.TempFolder();
        string clip = MakeClip(folder);
        string output = Path.Combine(folder, "out", "translated.mp4");
        using var translator = Translator.Open(NegateModel(folder), new TranslatorOptions { Provider = "cpu", Threads = 1 });
        var reports = new List<VideoProgress>();

        var result = VideoTranslation.Run(
            new VideoOptions { Input = clip, Output = output, Crf = 0 },
            (src, dst, w, h) => translator.Translate(src, dst, w, h, PixelLayout.Rgb24),
            new SynchronousProgress(reports.Add));

        Assert.Equal(15, result.Frames);
        Assert.True(result.AudioKept);
        Assert.Equal(15, reports[^1].Frames);
        var info = VideoProbe.Probe(output);
        Assert.Equal((Width, Height, 15L), (info.Width, info.Height, info.ExpectedFrames));
        Assert.Equal(Rate, info.Fps, 3);
        Assert.InRange(info.DurationSeconds!.Value, Seconds - 0.1, Seconds + 0.15);
        Assert.True(info.HasAudio);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!, "*.partial*"));

        // Each output frame is the model's translation of the decoded input frame, up to codec loss, and
        // clearly not the input itself. Compared in luma: yuv420p keeps chroma at a quarter of the resolution
        // (the neighbouring frame is already ~2.7 away in luma).
        byte[] input = DecodeAll(clip, Width, Height);
        byte[] translated = DecodeAll(output, Width, Height);
        Assert.Equal(input.Length, translated.Length);
        int frameBytes = Width * Height * 3;
        var expected = new byte[frameBytes];
        foreach (int frame in new[] { 0, 7, 14 })
        {
            var src = input.AsSpan(frame * frameBytes, frameBytes);
            var got = translated.AsSpan(frame * frameBytes, frameBytes);
            translator.Translate(src, expected, Width, Height, PixelLayout.Rgb24);
            Assert.InRange(MeanLumaDifference(expected, got), 0, 2);
            Assert.True(TestImages.MeanDifference(src, got) > 20, $"frame {frame} looks untranslated");
        }
    }

    [FfmpegFact]
    public void Frames_limit_stops_early_and_trims_the_audio_and_max_side_scales_to_even_sizes()
    {
        string folder = TestFiles.TempFolder();
        string clip = MakeClip(folder);
        string output = Path.Combine(folder, "short.mkv");
        int calls = 0;
        var result = VideoTranslation.Run(
            new VideoOptions { Input = clip, Output = output, MaxFrames = 5, MaxSide = 33 },
            (src, dst, w, h) => { calls++; src.CopyTo(dst); });

        Assert.Equal((5L, 5), (result.Frames, calls));
        Assert.Equal((32, 24), (result.Width, result.Height));
        var info = VideoProbe.Probe(output);
        Assert.Equal((32, 24), (info.Width, info.Height));
        Assert.True(info.HasAudio);
        Assert.InRange(info.DurationSeconds!.Value, 0.4, 0.7);
    }

    [FfmpegFact]
    public void A_broken_input_names_the_file_and_leaves_no_output()
    {
        string folder = TestFiles.TempFolder();
        string bad = Path.Combine(folder, "not-a-video.mp4");
        File.WriteAllText(bad, "hello");
        string output = Path.Combine(folder, "out.mp4");
        var e = Assert.Throws<FfmpegException>(() =>
            VideoTranslation.Run(new VideoOptions { Input = bad, Output = output }, (s, d, w, h) => s.CopyTo(d)));
        Assert.Contains(bad, e.Message);
        Assert.Equal([bad], Directory.GetFiles(folder));
    }

    [FfmpegFact]
    public void An_unknown_codec_fails_with_ffmpegs_reason_and_removes_the_partial_file()
    {
        string folder = TestFiles.TempFolder();
        string clip = MakeClip(folder);
        string output = Path.Combine(folder, "out.mp4");
        var e = Assert.Throws<FfmpegException>(() =>
            VideoTranslation.Run(new VideoOptions { Input = clip, Output = output, Codec = "no-such-codec" }, (s, d, w, h) => s.CopyTo(d)));
        Assert.Contains("no-such-codec", e.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(folder, "*.partial*"));
    }

    [FfmpegFact]
    public void The_command_reports_a_bad_input_with_exit_code_1()
    {
        string folder = TestFiles.TempFolder();
        string model = TestModels.Save(TestModels.Negate(new()), folder);
        string bad = Path.Combine(folder, "bad.mp4");
        File.WriteAllText(bad, "x");
        int code = VideoCommand.Create().Parse(["-m", model, bad, "-o", Path.Combine(folder, "o.mp4")]).Invoke();
        Assert.Equal(1, code);
    }

    [FfmpegFact]
    public async Task The_command_ends_with_frames_rate_and_where_the_time_went()
    {
        string folder = TestFiles.TempFolder();
        string clip = MakeClip(folder);
        string output = Path.Combine(folder, "o.mp4");
        var r = await Cli.CliRunner.RunAsync("video", "-m", TestModels.Save(TestModels.Negate(new()), folder), clip, "-o", output);
        Assert.Equal(0, r.ExitCode);
        var line = System.Text.RegularExpressions.Regex.Match(r.Output,
            @"15 frames 64x48 at 10 fps, [0-9.]+ frames/s end to end, inference (\d+) ?% of the time \(waiting for the decoder (\d+) ?%, the encoder (\d+) ?%; cpu\), audio kept");
        Assert.True(line.Success, r.Output);
        // The three are disjoint parts of the model thread's wall time.
        Assert.InRange(Enumerable.Range(1, 3).Sum(g => int.Parse(line.Groups[g].Value, CultureInfo.InvariantCulture)), 0, 101);
    }

    [Fact]
    public void Probe_json_gives_size_rate_frames_and_audio()
    {
        const string json = """
            {"streams":[{"codec_type":"video","width":640,"height":360,"avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001","nb_frames":"300","duration":"10.01"},
                        {"codec_type":"audio"}],"format":{"duration":"10.02"}}
            """;
        var info = VideoProbe.Parse(json, "x.mp4");
        Assert.Equal((640, 360, 300L, true), (info.Width, info.Height, info.ExpectedFrames, info.HasAudio));
        Assert.Equal(29.97, info.Fps, 2);

        var camera = VideoProbe.Parse("""{"streams":[{"codec_type":"video","width":8,"height":6,"avg_frame_rate":"0/0","r_frame_rate":"25/1"}],"format":{}}""", "/dev/video0");
        Assert.Equal((25.0, (long?)null, false), (camera.Fps, camera.ExpectedFrames, camera.HasAudio));

        var e = Assert.Throws<FfmpegException>(() => VideoProbe.Parse("""{"streams":[{"codec_type":"audio"}]}""", "song.mp3"));
        Assert.Contains("song.mp3", e.Message);
    }

    [Theory]
    [InlineData(641, 361, null, 640, 360)]
    [InlineData(1920, 1080, 640, 640, 360)]
    [InlineData(1080, 1920, 640, 360, 640)]
    [InlineData(3, 3, null, 2, 2)]
    public void Output_size_is_even_and_within_max_side(int w, int h, int? maxSide, int ew, int eh) =>
        Assert.Equal((ew, eh), VideoTranslation.OutputSize(w, h, maxSide));

    /// <summary>Mean absolute difference of BT.601 luma: yuv420p keeps luma at full resolution, chroma at a quarter.</summary>
    private static double MeanLumaDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i += 3)
            sum += Math.Abs(0.299 * (a[i] - b[i]) + 0.587 * (a[i + 1] - b[i + 1]) + 0.114 * (a[i + 2] - b[i + 2]));
        return sum / (a.Length / 3);
    }

    private sealed class SynchronousProgress(Action<VideoProgress> report) : IProgress<VideoProgress>
    {
        public void Report(VideoProgress value) => report(value);
    }
}
