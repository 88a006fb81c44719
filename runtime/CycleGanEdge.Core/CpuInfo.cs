using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ArmBase = System.Runtime.Intrinsics.Arm.ArmBase;
using ArmDot = System.Runtime.Intrinsics.Arm.Dp;

namespace CycleGanEdge.Core;

/// <summary>
/// The int8 matrix kernels ONNX Runtime's MLAS takes on a CPU for uint8 activations x int8 weights (QLinearConv).
/// <paramref name="SaturatesEightBitWeights"/>: the kernel adds two u8 x s8 products in a signed 16-bit lane
/// (VPMADDUBSW), so 8-bit weights can overflow it (2 x 255 x 127 = 64,770 &gt; 32,767); 7-bit weights cannot (2 x 255 x 63).
/// </summary>
public sealed record Int8Kernels(string Name, bool SaturatesEightBitWeights);

/// <summary>
/// What this CPU is, from CPUID (which is also what MLAS reads to pick its kernels, so an emulated older CPU is seen as it
/// is emulated) and, for the name, /proc/cpuinfo.
/// </summary>
public static class CpuInfo
{
    /// <summary>The CPU's model name (Linux /proc/cpuinfo), else the process architecture.</summary>
    public static string Name { get; } = ReadName();

    /// <summary>AVX-512 VNNI (VPDPBUSD on 512-bit registers): CPUID leaf 7, ECX bit 11, with AVX-512BW.</summary>
    public static bool HasAvx512Vnni { get; } = X86Base.IsSupported && Avx512BW.IsSupported && (X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

    /// <summary>The vector extensions that decide speed and int8 rounding, e.g. "AVX-512 (BW, VNNI)", "AVX2+FMA", "NEON (dotprod)".</summary>
    public static string Isa { get; } = DescribeIsa();

    /// <summary>MLAS's choice of uint8 x int8 kernel on this CPU (its platform set-up, in the order it tests the features).</summary>
    public static Int8Kernels Int8 { get; } = ChooseInt8();

    /// <summary>One line naming the CPU and its ISA, for every printed figure: "AMD EPYC 9R45 (AVX-512 (BW, VNNI))".</summary>
    public static string Describe() => $"{Name} ({Isa})";

    /// <summary>How an int8 model's weights fare on this CPU's int8 kernels; null for a float model.</summary>
    public static string? Int8Fit(IReadOnlyDictionary<string, string> metadata)
    {
        if (!metadata.ContainsKey(ModelContract.QuantizationKey)) return null;
        // Files quantized before the key existed have 8-bit weights.
        int bits = metadata.GetValueOrDefault(ModelContract.WeightBitsKey) == "7" ? 7 : 8;
        string fit = bits == 8 && Int8.SaturatesEightBitWeights
            ? "8-bit weights can overflow these kernels' 16-bit sums (the output drifts from fp32 by up to tens of dB): " +
              "quantize again with --weight-bits 7, the default"
            : $"{bits}-bit weights, exact on these kernels";
        return $"{Int8.Name}: {fit}";
    }

    private static Int8Kernels ChooseInt8()
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            return ArmDot.IsSupported
                ? new("NEON dot product (UDOT/SDOT, 32-bit sums)", false)
                : new("NEON widening multiply-add (32-bit sums)", false);
        if (!X86Base.IsSupported) return new($"{RuntimeInformation.ProcessArchitecture} (ONNX Runtime's portable kernels)", false);
        if (HasAvx512Vnni) return new("AVX-512 VNNI (VPDPBUSD, 32-bit sums)", false);
        if (AvxVnni.IsSupported) return new("AVX-VNNI (VPDPBUSD, 256-bit, 32-bit sums)", false);
        if (Avx512BW.IsSupported) return new("AVX-512BW U8S8 (VPMADDUBSW, 16-bit pair sums)", true);
        if (Avx2.IsSupported) return new("AVX2 U8S8 (VPMADDUBSW, 16-bit pair sums)", true);
        return new("SSE4.1 U8S8 (PMADDUBSW, 16-bit pair sums)", true);
    }

    private static string DescribeIsa()
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
            return ArmBase.Arm64.IsSupported && ArmDot.IsSupported ? "NEON (dotprod)" : "NEON";
        if (!X86Base.IsSupported) return RuntimeInformation.ProcessArchitecture.ToString();
        var parts = new List<string>();
        if (Avx512BW.IsSupported) parts.Add("BW");
        if (HasAvx512Vnni) parts.Add("VNNI");
        if (Avx512F.IsSupported) return parts.Count > 0 ? $"AVX-512 ({string.Join(", ", parts)})" : "AVX-512";
        if (Avx2.IsSupported && Fma.IsSupported) return AvxVnni.IsSupported ? "AVX2+FMA, AVX-VNNI" : "AVX2+FMA";
        return Avx2.IsSupported ? "AVX2" : Sse41.IsSupported ? "SSE4.1" : "x86-64";
    }

    private static string ReadName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (string line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) || line.StartsWith("Model", StringComparison.Ordinal))
                        return line.Split(':', 2)[1].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
