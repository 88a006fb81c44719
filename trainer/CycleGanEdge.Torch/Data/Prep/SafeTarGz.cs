using System.Formats.Tar;
using System.IO.Compression;

namespace CycleGanEdge.Torch.Data.Prep;

/// <summary>Extracts regular files of a .tgz, refusing any entry whose path would land outside the destination.</summary>
public static class SafeTarGz
{
    /// <param name="include">Chooses entries by their name inside the archive ('/'-separated); every entry is checked regardless.</param>
    /// <returns>Number of files written.</returns>
    public static int Extract(string archive, string destination, Func<string, bool> include)
    {
        string root = Path.GetFullPath(destination);
        string rootWithSeparator = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        Directory.CreateDirectory(root);
        int files = 0;
        try
        {
            using var stream = File.OpenRead(archive);
            using var gzip = new GZipStream(stream, CompressionMode.Decompress);
            using var reader = new TarReader(gzip);
            while (reader.GetNextEntry() is { } entry)
            {
                string name = entry.Name.Replace('\\', '/');
                string target = Path.GetFullPath(Path.Combine(root, name));
                bool escapes = Path.IsPathRooted(name) || name.Split('/').Contains("..")
                    || !target.StartsWith(rootWithSeparator, StringComparison.Ordinal);
                if (escapes)
                    throw new DatasetException($"{archive}: refusing entry '{entry.Name}': its path leaves the extraction folder.");
                // Links and devices are never created: only plain files are needed, and links could point anywhere.
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || !include(name))
                    continue;
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                entry.ExtractToFile(target, overwrite: true);
                files++;
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new DatasetException($"{archive}: not a readable .tgz ({e.Message}).", e);
        }
        return files;
    }
}
