namespace CycleGanEdge.Core.Imaging;

/// <summary>Writes a file so that readers see either the old file, the complete new one, or nothing.</summary>
public static class AtomicFile
{
    private const int DiskFullHResultLinux = 28;        // ENOSPC
    private const int DiskFullHResultWindows = unchecked((int)0x80070070);
    private const int ReadOnlyFileSystemLinux = 30;     // EROFS
    private const int FileTooLargeLinux = 27;           // EFBIG (also ulimit -f)

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> data)
    {
        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath)!;
        // Same folder as the target, so the final rename never crosses file systems.
        string temp = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                stream.Write(data);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (IsWriteError(e))
        {
            TryDelete(temp);
            throw new IOException($"{path}: cannot write ({DescribeWriteError(e)})", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// True for the exceptions a failing write throws. EFBIG (a file size limit, ulimit -f) surfaces from
    /// FileStream.Write as ArgumentOutOfRangeException "Specified file length was too large" (parameter 'value'),
    /// not as an IOException: found by DiskFullTests, it crashed a whole translate run.
    /// </summary>
    public static bool IsWriteError(Exception e) =>
        e is IOException or UnauthorizedAccessException || e is ArgumentOutOfRangeException { ParamName: "value" };

    /// <summary>A short reason for a failed write: "disk full", "read-only file system", "permission denied", ...</summary>
    public static string DescribeWriteError(Exception e)
    {
        int code = e.HResult & 0xFFFF;
        if (e.HResult == DiskFullHResultWindows || code == DiskFullHResultLinux || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase))
            return "disk full";
        if (code == ReadOnlyFileSystemLinux || e.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase))
            return "read-only file system";
        if (e is UnauthorizedAccessException)
            return "permission denied";
        if (e is DirectoryNotFoundException)
            return "folder does not exist";
        if (e is ArgumentOutOfRangeException || (e.HResult & 0xFFFF) == FileTooLargeLinux)
            return "file too large for this file system or for the process's file size limit";
        return e.Message;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort; the original error matters more */ }
    }
}
