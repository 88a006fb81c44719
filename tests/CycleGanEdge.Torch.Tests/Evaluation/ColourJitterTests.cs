using CycleGanEdge.Torch.Evaluation;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Tests.Evaluation;

public class ColourJitterTests
{
    private static float[] Apply(float[] m, float r, float g, float b) =>
    [
        m[0] * r + m[1] * g + m[2] * b,
        m[3] * r + m[4] * g + m[5] * b,
        m[6] * r + m[7] * g + m[8] * b,
    ];

    [Fact]
    public void A_third_of_a_turn_about_the_grey_axis_moves_red_to_green_and_keeps_grey()
    {
        var m = ClassifierTraining.HueSaturationMatrix(2 * Math.PI / 3, saturation: 1);
        Assert.Equal([0f, 1f, 0f], Apply(m, 1, 0, 0), new FloatTolerance(1e-6f));
        Assert.Equal([0.3f, 0.3f, 0.3f], Apply(m, 0.3f, 0.3f, 0.3f), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Zero_saturation_turns_any_colour_into_its_grey()
    {
        var m = ClassifierTraining.HueSaturationMatrix(1.234, saturation: 0);
        Assert.Equal([0.4f, 0.4f, 0.4f], Apply(m, 0.9f, 0.2f, 0.1f), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Jitter_changes_colours_keeps_the_range_and_keeps_white_backgrounds_near_white()
    {
        using var scope = NewDisposeScope();
        var x = rand(8, 3, 16, 16) * 2 - 1;
        x[.., .., ..4, ..] = 1; // a white band, as emoji backgrounds
        var y = ClassifierTraining.ColourJitter(x, new Random(3));
        Assert.Equal(x.shape, y.shape);
        Assert.True(y.min().item<float>() >= -1 && y.max().item<float>() <= 1);
        Assert.True((y - x).abs().mean().item<float>() > 0.05, "jitter must change the colours");
        // White stays grey-ish (equal channels) under any hue rotation and saturation; only contrast/brightness move it.
        var band = y[.., .., ..4, ..];
        Assert.True((band.max(1).values - band.min(1).values).max().item<float>() < 1e-4);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float value) => 0;
    }
}
