using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>Builds image files byte by byte, for formats and tags Skia does not write (palette/grey PNG, EXIF, GIF).</summary>
internal static class TestFiles
{
    /// <summary>A folder removed when the test process exits (<see cref="CycleGanEdge.Tests.Shared.TempFolder"/>).</summary>
    public static string TempFolder() => CycleGanEdge.Tests.Shared.TempFolder.New("rt");

    /// <summary>A PNG with the given colour type and bit depth; <paramref name="rows"/> are raw scanlines without filter bytes.</summary>
    public static byte[] Png(int width, int height, byte colorType, byte bitDepth, byte[][] rows, byte[]? palette = null, byte[]? transparency = null)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colorType;
        Chunk(ms, "IHDR", ihdr);
        if (palette is not null) Chunk(ms, "PLTE", palette);
        if (transparency is not null) Chunk(ms, "tRNS", transparency);
        var raw = new MemoryStream();
        foreach (var row in rows) { raw.WriteByte(0); raw.Write(row); }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>A PNG header claiming a huge size, with almost no data behind it.</summary>
    public static byte[] PngBomb(int width, int height) =>
        Png(width, height, colorType: 0, bitDepth: 8, rows: [new byte[1]]);

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typeAndData));
        s.Write(len);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>Inserts an EXIF APP1 segment with the given orientation (1-8) right after a JPEG's SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        // TIFF header (big endian) with one IFD entry: tag 0x0112 Orientation, SHORT, count 1.
        byte[] tiff =
        [
            (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8,
            0, 1,
            0x01, 0x12, 0, 3, 0, 0, 0, 1, (byte)(orientation >> 8), (byte)orientation, 0, 0,
            0, 0, 0, 0,
        ];
        byte[] payload = [.. "Exif\0\0"u8, .. tiff];
        int segmentLength = payload.Length + 2;
        byte[] app1 = [0xFF, 0xE1, (byte)(segmentLength >> 8), (byte)segmentLength, .. payload];
        return [.. jpeg.AsSpan(0, 2), .. app1, .. jpeg.AsSpan(2)];
    }

    /// <summary>A 1x1 GIF with two frames: red, then blue.</summary>
    public static byte[] TwoFrameGif()
    {
        var b = new List<byte>();
        b.AddRange("GIF89a"u8.ToArray());
        b.AddRange([1, 0, 1, 0, 0x80, 0, 0]);        // 1x1, global colour table of 2 entries
        b.AddRange([255, 0, 0, 0, 0, 255]);          // red, blue
        b.AddRange([0x21, 0xFF, 11, .. "NETSCAPE2.0"u8, 3, 1, 0, 0, 0]);
        foreach (byte index in new byte[] { 0, 1 })
        {
            b.AddRange([0x21, 0xF9, 4, 0, 10, 0, 0, 0]); // 0.1 s per frame
            b.AddRange([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
            // LZW, minimum code size 2: codes CLEAR(4), index, END(5), 3 bits each, LSB first.
            b.AddRange([2, 2, (byte)(4 | (index << 3) | ((5 & 3) << 6)), 5 >> 2, 0]);
        }
        b.Add(0x3B);
        return b.ToArray();
    }
}
