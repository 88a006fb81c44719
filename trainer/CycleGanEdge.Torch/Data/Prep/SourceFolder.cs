namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>The images of a user folder as split sources, keyed by their path relative to the folder.</summary>
public static class SourceFolder
{
    /// <summary>
    /// Key = relative path without extension, folder separators as '_' (sub/cat.jpg → sub_cat), so the same
    /// picture in two folders of a pair gets the same key. A name used twice (cat.jpg, cat.png) keeps its extension.
    /// </summary>
    public static IReadOnlyList<SourceImage> List(string folder, ImageChange change = ImageChange.None)
    {
        var files = ImageFolder.List(folder);
        if (files.Length == 0)
            throw new DatasetException($"{folder}: no images ({string.Join(", ", ImageFolder.Extensions)}).");
        string root = Path.GetFullPath(folder);
        var stems = files.Select(f => Stem(Path.GetRelativePath(root, f))).ToArray();
        var taken = stems.CountBy(s => s, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var result = new List<SourceImage>(files.Length);
        for (int i = 0; i < files.Length; i++)
        {
            string key = taken[stems[i]] > 1
                ? stems[i] + "_" + Path.GetExtension(files[i]).TrimStart('.').ToLowerInvariant()
                : stems[i];
            result.Add(new SourceImage(key, key, files[i], change));
        }
        return result;
    }

    private static string Stem(string relative)
    {
        string withoutExtension = Path.ChangeExtension(relative, null);
        return withoutExtension.Replace(Path.DirectorySeparatorChar, '_').Replace(Path.AltDirectorySeparatorChar, '_');
    }
}
