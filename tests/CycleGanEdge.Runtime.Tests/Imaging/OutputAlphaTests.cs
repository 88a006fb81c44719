using CsCheck;
using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Imaging;

/// <summary>
/// The output alpha modes of translate --alpha, on the one implementation (ImagePreprocessing.ApplyOutputAlpha), against
/// the compositing formula written out in TestImages.OnWhite.
/// </summary>
public class OutputAlphaTests
{
    private static readonly ImagePreprocessing OnWhite = ImagePreprocessing.CompositeOnWhite("resize_and_crop", 72);

    // Model RGB with the input's alpha, as the translator hands them over: 1-40 pixels of any bytes.
    private static readonly Gen<byte[]> Pixels = Gen.Byte.Array[4, 160].Select(p => p[..(p.Length / 4 * 4)]).Where(p => p.Length > 0);

    [Fact]
    public void Model_alpha_laid_on_the_background_is_the_model_output_and_never_less_than_the_input_alpha()
    {
        Pixels.Sample(modelOutput =>
        {
            var result = (byte[])modelOutput.Clone();
            OnWhite.ApplyOutputAlpha(result, OutputAlpha.Model);
            var back = TestImages.OnWhite(new RgbaImage(result.Length / 4, 1, result, hasAlpha: true)).Pixels;
            for (int i = 0; i < result.Length; i += 4)
            {
                Assert.True(result[i + 3] >= modelOutput[i + 3], $"pixel {i / 4}: alpha {result[i + 3]} below the input's {modelOutput[i + 3]}");
                for (int c = 0; c < 3; c++)
                    Assert.InRange(back[i + c] - modelOutput[i + c], -1, 1);
            }
        });
    }

    [Fact]
    public void Model_alpha_is_the_least_that_can_give_the_colour()
    {
        // A pixel the model drew as pure background stays as transparent as the input; one drawn mid-grey over a
        // transparent input needs alpha (255 - 128) / 255 of black; a fully opaque input pixel is left as it is.
        byte[] px = [255, 255, 255, 0, 128, 128, 128, 0, 200, 30, 90, 255, 250, 250, 250, 64];
        OnWhite.ApplyOutputAlpha(px, OutputAlpha.Model);
        Assert.Equal([255, 255, 255, 0], px[..4]);
        Assert.Equal([0, 0, 0, 127], px[4..8]);
        Assert.Equal([200, 30, 90, 255], px[8..12]);
        // 250 over a quarter-opaque input: the input's alpha is enough; the colour is 255 - 5 * 255 / 64 = 235.1.
        Assert.Equal([235, 235, 235, 64], px[12..16]);
    }

    [Fact]
    public void Input_keeps_the_input_alpha_and_opaque_sets_255_and_neither_touches_the_colours()
    {
        Pixels.Sample(modelOutput =>
        {
            var keep = (byte[])modelOutput.Clone();
            OnWhite.ApplyOutputAlpha(keep, OutputAlpha.Input);
            Assert.Equal(modelOutput, keep);
            var opaque = (byte[])modelOutput.Clone();
            OnWhite.ApplyOutputAlpha(opaque, OutputAlpha.Opaque);
            for (int i = 0; i < opaque.Length; i += 4)
            {
                Assert.Equal(modelOutput.AsSpan(i, 3).ToArray(), opaque.AsSpan(i, 3).ToArray());
                Assert.Equal(255, opaque[i + 3]);
            }
        });
    }

    [Fact]
    public void A_model_without_a_background_keeps_the_input_alpha_in_model_mode()
    {
        Pixels.Sample(modelOutput =>
        {
            var result = (byte[])modelOutput.Clone();
            ImagePreprocessing.Reference.ApplyOutputAlpha(result, OutputAlpha.Model);
            Assert.Equal(modelOutput, result);
        });
    }

    [Fact]
    public void Model_alpha_on_a_coloured_background_gives_back_the_model_output()
    {
        var grey = OnWhite with { BackgroundR = 40, BackgroundG = 128, BackgroundB = 220 };
        Pixels.Sample(modelOutput =>
        {
            var result = (byte[])modelOutput.Clone();
            grey.ApplyOutputAlpha(result, OutputAlpha.Model);
            var back = new byte[result.Length];
            grey.Composite(result, back);
            for (int i = 0; i < result.Length; i += 4)
                for (int c = 0; c < 3; c++)
                    Assert.InRange(back[i + c] - modelOutput[i + c], -1, 1);
        });
    }

    [Fact]
    public void Is_opaque_exactly_when_every_alpha_is_255()
    {
        // Mostly-opaque images with at most one pixel changed, at every position (the vector body and the tail).
        Gen.Select(Gen.Int[1, 300], Gen.Int[0, 299], Gen.Byte).Sample((pixels, at, alpha) =>
        {
            var rgba = new byte[pixels * 4];
            Array.Fill(rgba, (byte)255);
            if (at < pixels) rgba[at * 4 + 3] = alpha;
            rgba[0] = rgba[1] = 17; // colours do not matter
            bool expected = at >= pixels || alpha == 255;
            Assert.Equal(expected, ImagePreprocessing.IsOpaque(rgba));
        });
    }
}
