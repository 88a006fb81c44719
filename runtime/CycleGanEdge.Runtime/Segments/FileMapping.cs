using System.Runtime.InteropServices;

namespace CycleGanEdge.Runtime.Segments;

/// <summary>
/// A whole scratch file mapped shared, read and written through one pointer (Linux and macOS). Not through .NET's view
/// accessors: each accessor msyncs its range when disposed, so a view per tile wrote every stored tensor out to disk
/// while it was still being filled (measured: 3000x2000 --tile 512 ran 71 s with one view per tile copy, 97 s with one
/// per 4 MB window, 57 s mapped once). Pages a tile is done with are released with madvise(MADV_DONTNEED): for a shared file mapping that
/// only unmaps them (the data stays in the file and the system's cache), so they stop counting as the process's memory.
/// </summary>
internal sealed unsafe partial class FileMapping : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MadvDontNeed = 4;
    private static readonly long PageSize = Environment.SystemPageSize;

    private readonly FileStream _stream;
    private readonly long _bytes;

    private FileMapping(FileStream stream, byte* address, long bytes)
    {
        _stream = stream;
        Address = address;
        _bytes = bytes;
    }

    public byte* Address { get; private set; }

    /// <summary>Maps <paramref name="bytes"/> of <paramref name="stream"/> (which it then owns); null where this is not available (Windows).</summary>
    public static FileMapping? TryMap(FileStream stream, long bytes)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return null;
        // The preallocation reserves the blocks but may leave the length at 0, and pages past the end of a file fault.
        if (stream.Length < bytes) stream.SetLength(bytes);
        void* address = Mmap(null, (nuint)bytes, ProtRead | ProtWrite, MapShared, (int)stream.SafeFileHandle.DangerousGetHandle(), 0);
        if (address == (void*)-1)
            throw new IOException($"cannot map {bytes >> 20} MB of scratch file (errno {Marshal.GetLastPInvokeError()})");
        return new FileMapping(stream, (byte*)address, bytes);
    }

    /// <summary>Lets go of the pages of [start, start + length) (rounded out to whole pages); their data stays in the file.</summary>
    public void Release(byte* start, long length)
    {
        long first = ((long)(start - Address)) / PageSize * PageSize;
        long end = Math.Min(_bytes, ((long)(start - Address) + length + PageSize - 1) / PageSize * PageSize);
        if (end > first) _ = Madvise(Address + first, (nuint)(end - first), MadvDontNeed);
    }

    public void Dispose()
    {
        if (Address is not null) _ = Munmap(Address, (nuint)_bytes);
        Address = null;
        _stream.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
