using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace CycleGanEdge.Runtime.Segments;

/// <summary>The scratch folder cannot hold the stored activations (disk full, or not writable).</summary>
public sealed class ScratchFullException(string message, Exception inner) : IOException(message, inner);

/// <summary>
/// Where the activations at the cuts live between segments: native memory, or files in a scratch folder (mapped, and
/// copied a window of rows at a time whose pages are then let go, so resident memory stays at the working set, not the
/// file's size: <see cref="FileMapping"/>). Files are preallocated, so a
/// full disk shows up as an error here and never as a fault while writing through a mapping; they are unlinked as soon as
/// they are open (on Windows deleted on close), so nothing is left behind after success, an error, Ctrl-C or a kill.
/// </summary>
public sealed class ScratchStore(string? folder, bool half = false) : IDisposable
{
    private readonly List<ScratchTensor> _tensors = [];

    /// <summary>Null: memory; else the folder of the scratch files.</summary>
    public string? Folder { get; } = folder;

    /// <summary>Whether values are stored as fp16 (half the bytes; read back as fp32).</summary>
    public bool Half { get; } = half;

    /// <summary>Bytes one stored value takes.</summary>
    public int BytesPerValue => Half ? 2 : 4;

    public ScratchTensor Allocate(int channels, int height, int width)
    {
        _tensors.RemoveAll(t => t.IsDisposed); // a store that lives for a video's frames does not collect every frame's tensors
        var tensor = new ScratchTensor(Folder, channels, height, width, Half);
        _tensors.Add(tensor);
        return tensor;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}

/// <summary>
/// One stored tensor [1, C, H, W] (fp32, or fp16 converted on the way in and out), laid out row by row ([H][C][W]) so a
/// band of rows is one contiguous window.
/// </summary>
public sealed unsafe class ScratchTensor : IDisposable
{
    private byte* _memory;
    private readonly FileMapping? _mapping;
    private readonly MemoryMappedFile? _file;
    private readonly long _rowBytes;
    private readonly bool _half;
    // fp16: each channel is stored about a centre, the mean of the first region written. Values before an instance norm
    // can sit far from zero with a small spread (a flat image), and fp16's rounding of the value itself, amplified by
    // the norm's 1/std, cost up to 255 levels on the tests' shape images; about the centre it rounds the spread only.
    private float[]? _centre;
    private float[] _centred = [];

    internal ScratchTensor(string? folder, int channels, int height, int width, bool half = false)
    {
        Channels = channels;
        Height = height;
        Width = width;
        _half = half;
        _rowBytes = (long)channels * width * (half ? sizeof(ushort) : sizeof(float));
        Bytes = _rowBytes * height;
        if (folder is null)
        {
            _memory = (byte*)NativeMemory.Alloc((nuint)Bytes);
            return;
        }
        string path = Path.Combine(folder, $"cyclegan-scratch-{Environment.ProcessId}-{Guid.NewGuid():N}.{(half ? "f16" : "f32")}");
        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                PreallocationSize = Bytes,
                Options = OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(path);
            throw new ScratchFullException($"scratch folder {folder}: cannot hold {Bytes >> 20} MB more of stored activations ({e.Message}); " +
                "free space there or choose another folder with --scratch", e);
        }
        if (!OperatingSystem.IsWindows()) TryDelete(path); // the open handle keeps the data; the kernel frees it when the handle closes
        try
        {
            if (FileMapping.TryMap(stream, Bytes) is { } mapping)
            {
                _mapping = mapping;
                _memory = mapping.Address;
            }
            else _file = MemoryMappedFile.CreateFromFile(stream, null, Bytes, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public long Bytes { get; }

    /// <summary>Copies rows y0.., columns x0.. (h x w) of every channel into <paramref name="tile"/> ([C][h][w]).</summary>
    public void Read(Span<float> tile, int y0, int x0, int h, int w) => Copy(tile, y0, x0, h, w, 0, 0, h, w, toTile: true);

    /// <summary>Stores the h x w region at (ty, tx) of a [C][tileH][tileW] tile at rows y0.., columns x0.. of this tensor.</summary>
    public void Write(ReadOnlySpan<float> tile, int tileH, int tileW, int ty, int tx, int y0, int x0, int h, int w)
    {
        if (_half && _centre is null)
        {
            _centre = new float[Channels];
            for (int c = 0; c < Channels; c++)
            {
                double sum = 0;
                for (int y = 0; y < h; y++) sum += TensorPrimitives.Sum(tile.Slice(c * tileH * tileW + (ty + y) * tileW + tx, w));
                _centre[c] = (float)(sum / ((long)h * w));
            }
        }
        fixed (float* p = tile)
            Copy(new Span<float>(p, tile.Length), y0, x0, h, w, ty, tx, tileH, tileW, toTile: false);
    }

    // A band of whole rows spans every column of the image (a 6000-wide row of 32 channels is 750 KB) while a tile touches
    // only its own columns, so mapped files are copied a few rows at a time and each window's pages let go at once.
    // Measured on 6000x4000: one window per tile peaked at 490 MB of mapped file pages.
    private const long WindowBytes = 4 << 20;

    private void Copy(Span<float> tile, int y0, int x0, int h, int w, int ty, int tx, int tileH, int tileW, bool toTile)
    {
        if (y0 < 0 || x0 < 0 || y0 + h > Height || x0 + w > Width)
            throw new ArgumentOutOfRangeException(nameof(y0), $"region {x0},{y0} {w}x{h} is outside {Width}x{Height}");
        if (_file is null)
        {
            // Memory, or the whole file mapped once (Unix): copy in windows of rows and let go of each window's pages.
            int rows = _mapping is null ? h : (int)Math.Clamp(WindowBytes / _rowBytes, 1, h);
            for (int first = 0; first < h; first += rows)
            {
                int n = Math.Min(rows, h - first);
                byte* window = _memory + (y0 + first) * _rowBytes;
                CopyRows(tile, window, first, n, x0, w, ty, tx, tileH, tileW, toTile);
                _mapping?.Release(window, n * _rowBytes);
            }
            return;
        }
        // Windows: one .NET view per copy (it flushes its range when disposed, so fewer and larger views are cheaper there).
        using var view = _file.CreateViewAccessor(y0 * _rowBytes, h * _rowBytes);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            CopyRows(tile, start + view.PointerOffset, 0, h, x0, w, ty, tx, tileH, tileW, toTile);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    /// <summary>Rows first..first+rows of the region, <paramref name="window"/> pointing at row first's stored data.</summary>
    private void CopyRows(Span<float> tile, byte* window, int first, int rows, int x0, int w, int ty, int tx, int tileH, int tileW, bool toTile)
    {
        int plane = tileH * tileW;
        for (int y = 0; y < rows; y++)
        {
            byte* row = window + y * _rowBytes;
            for (int c = 0; c < Channels; c++)
            {
                var inTile = tile.Slice(c * plane + (ty + first + y) * tileW + tx, w);
                long at = (long)c * Width + x0;
                if (_half)
                {
                    var stored = new Span<Half>((Half*)row + at, w);
                    float centre = _centre![c];
                    if (toTile)
                    {
                        TensorPrimitives.ConvertToSingle(stored, inTile);
                        TensorPrimitives.Add(inTile, centre, inTile);
                    }
                    else
                    {
                        // The tile's buffer is the segment's output, reused by the next tile: centre a copy, not it.
                        if (_centred.Length < w) _centred = new float[w];
                        var centred = _centred.AsSpan(0, w);
                        TensorPrimitives.Subtract(inTile, centre, centred);
                        TensorPrimitives.ConvertToHalf(centred, stored);
                    }
                }
                else
                {
                    var stored = new Span<float>((float*)row + at, w);
                    if (toTile) stored.CopyTo(inTile);
                    else inTile.CopyTo(stored);
                }
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    internal bool IsDisposed { get; private set; }

    public void Dispose()
    {
        if (_mapping is not null) _mapping.Dispose();
        else if (_memory is not null) NativeMemory.Free(_memory);
        _memory = null;
        _file?.Dispose();
        IsDisposed = true;
    }
}
