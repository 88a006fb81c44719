using System.Security.Cryptography;
using System.Text;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Evaluation;

/// <summary>Features and statistics of an image set, as kept in the cache.</summary>
public sealed record FeatureSet(List<float[]> Features, GaussianStats Stats);

/// <summary>
/// Caches a real image set's features and statistics, keyed by the SHA-256 of every file's name and
/// content, the feature network's SHA-256, its output layer, input size and normalisation: any change to
/// the set or the options gives a new key, never stale numbers.
/// </summary>
public static class FeatureCache
{
    public static string DefaultDirectory =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "cyclegan-edge", "features");

    /// <param name="background">The colour the images were composited onto before feature extraction (#rrggbb).</param>
    public static string Key(IEnumerable<string> files, FeatureExtractor extractor, string background)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"v2|{extractor.ModelSha256}|{extractor.Layer}|{extractor.ImageSize}|{extractor.Normalization}|{background}\n"));
        foreach (string file in files.OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal))
        {
            using var stream = File.OpenRead(file);
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "|" + Convert.ToHexStringLower(SHA256.HashData(stream)) + "\n"));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static FeatureSet? TryLoad(string directory, string key)
    {
        string path = Path.Combine(directory, key + ".bin");
        if (!File.Exists(path)) return null;
        try
        {
            using var stream = File.OpenRead(path);
            var stats = GaussianStats.Read(stream);
            using var r = new BinaryReader(stream);
            var features = new List<float[]>(stats.Count);
            for (int i = 0; i < stats.Count; i++)
            {
                var v = new float[stats.Dimension];
                for (int j = 0; j < v.Length; j++) v[j] = r.ReadSingle();
                features.Add(v);
            }
            return new FeatureSet(features, stats);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or EndOfStreamException)
        {
            return null; // a damaged entry is recomputed and overwritten
        }
    }

    public static void Save(string directory, string key, FeatureSet set)
    {
        Directory.CreateDirectory(directory);
        using var ms = new MemoryStream();
        set.Stats.Write(ms);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
            foreach (var v in set.Features)
                foreach (float x in v) w.Write(x);
        AtomicFile.WriteAllBytes(Path.Combine(directory, key + ".bin"), ms.ToArray());
    }
}
