using CycleGanEdge.Core;

namespace CycleGanEdge.Runtime.Tests;

public class CpuInfoTests
{
    private static Dictionary<string, string> Int8Metadata(string? weightBits)
    {
        var meta = new Dictionary<string, string> { [ModelContract.QuantizationKey] = ModelContract.QuantizationInt8Qdq };
        if (weightBits is not null) meta[ModelContract.WeightBitsKey] = weightBits;
        return meta;
    }

    [Fact]
    public void A_float_model_has_no_int8_verdict()
    {
        Assert.Null(CpuInfo.Int8Fit(new Dictionary<string, string> { [ModelContract.PrecisionKey] = "fp32" }));
    }

    [Fact]
    public void Seven_bit_weights_are_exact_on_every_kernel()
    {
        Assert.Equal($"{CpuInfo.Int8.Name}: 7-bit weights, exact on these kernels", CpuInfo.Int8Fit(Int8Metadata("7")));
    }

    [Theory]
    [InlineData("8")]
    [InlineData(null)] // files quantized before the key existed have 8-bit weights
    public void Eight_bit_weights_are_flagged_exactly_where_the_kernel_sums_in_16_bits(string? bits)
    {
        string fit = CpuInfo.Int8Fit(Int8Metadata(bits))!;
        Assert.StartsWith(CpuInfo.Int8.Name, fit);
        if (CpuInfo.Int8.SaturatesEightBitWeights)
            Assert.Contains("--weight-bits 7", fit);
        else
            Assert.EndsWith("8-bit weights, exact on these kernels", fit);
    }

    [Fact]
    public void The_int8_kernel_follows_the_instruction_set()
    {
        // VNNI and ARM64 kernels sum in 32 bits; x86 without VNNI pairs products in 16 bits.
        bool vnni = CpuInfo.HasAvx512Vnni || System.Runtime.Intrinsics.X86.AvxVnni.IsSupported;
        bool x86 = System.Runtime.Intrinsics.X86.X86Base.IsSupported;
        Assert.Equal(x86 && !vnni, CpuInfo.Int8.SaturatesEightBitWeights);
        Assert.Contains(CpuInfo.Isa, CpuInfo.Describe());
        Assert.False(string.IsNullOrWhiteSpace(CpuInfo.Name));
    }
}
