using System.Buffers.Binary;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Imaging;

/// <summary>Image files Skia does not write: CMYK JPEG, animated WebP, huge headers in other formats.</summary>
internal static class HostileImageFiles
{
    /// <summary>
    /// An 8x8 baseline JPEG with four components (C, M, Y, K, each one solid value) and an Adobe APP14 marker
    /// with transform 0, as Photoshop writes CMYK: values are stored inverted (255 = no ink).
    /// Every block has only a DC coefficient, so the entropy coder reduces to one DC code and an EOB per block.
    /// </summary>
    public static byte[] CmykJpeg(byte c, byte m, byte y, byte k)
    {
        var f = new List<byte> { 0xFF, 0xD8 };
        void Segment(byte marker, params byte[] payload)
        {
            int length = payload.Length + 2;
            f.AddRange([0xFF, marker, (byte)(length >> 8), (byte)length]);
            f.AddRange(payload);
        }
        // APP14 "Adobe": version 100, flags0 0, flags1 0, transform 0 (CMYK, not YCCK).
        Segment(0xEE, [.. "Adobe"u8, 0, 100, 0, 0, 0, 0, 0]);
        Segment(0xDB, [0x00, .. Enumerable.Repeat((byte)1, 64)]); // quantisation table 0: all ones
        // SOF0: 8-bit, 8x8, 4 components with ids 1..4, no subsampling, table 0.
        Segment(0xC0, [8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0]);
        // DC table 0: twelve 4-bit codes, category n = code n. AC table 0: one 1-bit code "0" = EOB.
        byte[] dcCounts = new byte[16];
        dcCounts[3] = 12;
        Segment(0xC4, [0x00, .. dcCounts, .. Enumerable.Range(0, 12).Select(i => (byte)i)]);
        byte[] acCounts = new byte[16];
        acCounts[0] = 1;
        Segment(0xC4, [0x10, .. acCounts, 0x00]);
        Segment(0xDA, [4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0]);

        var bits = new BitWriter();
        foreach (byte v in new[] { c, m, y, k })
        {
            int dc = (v - 128) * 8; // DC of a flat block with quantiser 1
            int category = dc == 0 ? 0 : 32 - int.LeadingZeroCount(Math.Abs(dc));
            bits.Write(category, 4);
            if (category > 0) bits.Write(dc > 0 ? dc : dc + (1 << category) - 1, category);
            bits.Write(0, 1); // EOB
        }
        f.AddRange(bits.Finish());
        f.AddRange([0xFF, 0xD9]);
        return [.. f];
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = [];
        private int _current, _used;

        public void Write(int value, int count)
        {
            for (int i = count - 1; i >= 0; i--)
            {
                _current = (_current << 1) | ((value >> i) & 1);
                if (++_used == 8) Flush();
            }
        }

        public byte[] Finish()
        {
            while (_used != 0) { _current = (_current << 1) | 1; if (++_used == 8) Flush(); }
            return [.. _bytes];
        }

        private void Flush()
        {
            _bytes.Add((byte)_current);
            if (_current == 0xFF) _bytes.Add(0); // byte stuffing
            _current = 0;
            _used = 0;
        }
    }

    /// <summary>An animated WebP of two <paramref name="size"/>-square frames: solid red, then solid blue.</summary>
    public static byte[] TwoFrameWebp(int size = 8)
    {
        static byte[] Solid(int size, byte r, byte g, byte b)
        {
            var img = new RgbaImage(size, size);
            for (int i = 0; i < img.Pixels.Length; i += 4) { img.Pixels[i] = r; img.Pixels[i + 1] = g; img.Pixels[i + 2] = b; }
            return VP8LChunk(ImageCodec.Encode(img, ImageFormat.Webp, 100));
        }
        var body = new List<byte>();
        body.AddRange("WEBP"u8.ToArray());
        Chunk(body, "VP8X", [0x02, 0, 0, 0, .. U24(size - 1), .. U24(size - 1)]); // animation flag
        Chunk(body, "ANIM", [0, 0, 0, 0, 0, 0]);                                  // background, loop forever
        foreach (var frame in new[] { Solid(size, 255, 0, 0), Solid(size, 0, 0, 255) })
            Chunk(body, "ANMF", [.. U24(0), .. U24(0), .. U24(size - 1), .. U24(size - 1), .. U24(100), 0x02, .. frame]);
        var file = new List<byte>();
        file.AddRange("RIFF"u8.ToArray());
        file.AddRange(U32(body.Count));
        file.AddRange(body);
        return [.. file];
    }

    /// <summary>The VP8L chunk (header included) of a simple-format lossless WebP file.</summary>
    private static byte[] VP8LChunk(byte[] webp)
    {
        for (int at = 12; at + 8 <= webp.Length;)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(webp.AsSpan(at + 4));
            if (webp.AsSpan(at, 4).SequenceEqual("VP8L"u8))
                return webp[at..(at + 8 + length + (length & 1))];
            at += 8 + length + (length & 1);
        }
        throw new InvalidOperationException("no VP8L chunk in Skia's lossless WebP");
    }

    private static void Chunk(List<byte> to, string type, byte[] data)
    {
        to.AddRange(System.Text.Encoding.ASCII.GetBytes(type));
        to.AddRange(U32(data.Length));
        to.AddRange(data);
        if ((data.Length & 1) == 1) to.Add(0);
    }

    private static byte[] U24(int v) => [(byte)v, (byte)(v >> 8), (byte)(v >> 16)];
    private static byte[] U32(int v) => [(byte)v, (byte)(v >> 8), (byte)(v >> 16), (byte)(v >> 24)];

    /// <summary>A GIF whose screen and frame claim <paramref name="width"/> x <paramref name="height"/>, with 1 pixel of data.</summary>
    public static byte[] GifBomb(int width, int height)
    {
        var b = new List<byte>();
        b.AddRange("GIF89a"u8.ToArray());
        b.AddRange([(byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
        b.AddRange([0x2C, 0, 0, 0, 0, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8), 0]);
        b.AddRange([2, 2, 4 | (0 << 3) | ((5 & 3) << 6), 5 >> 2, 0, 0x3B]);
        return [.. b];
    }

    /// <summary>A JPEG whose SOF0 claims <paramref name="width"/> x <paramref name="height"/> (max 65535), with no scan data.</summary>
    public static byte[] JpegBomb(int width, int height)
    {
        byte[] jpeg = CmykJpeg(0, 0, 0, 0);
        int sof = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)width);
        return jpeg;
    }
}
