namespace CycleGanEdge.Torch.Data;

/// <summary>Lists the image files of a folder tree, like the reference's make_dataset.</summary>
public static class ImageFolder
{
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg", ".webp", ".bmp"];

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Image files under <paramref name="folder"/> (recursively), sorted ordinally by full path, at most <paramref name="max"/>.</summary>
    public static string[] List(string folder, int max = int.MaxValue)
    {
        if (!Directory.Exists(folder))
            throw new DatasetException($"{folder}: folder not found.");
        string[] files;
        try
        {
            files = Directory.EnumerateFiles(folder, "*", new EnumerationOptions
            {
                RecurseSubdirectories = true,
                IgnoreInaccessible = true,
                AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            }).Where(IsImage).Select(Path.GetFullPath).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{folder}: cannot list files ({e.Message}).", e);
        }
        Array.Sort(files, StringComparer.Ordinal);
        return files.Length > max ? files[..max] : files;
    }
}
