namespace CycleGanEdge.Torch.Data;

/// <summary>
/// One batch of unpaired images, NCHW float32 in [-1, 1]:
/// <c>torch.tensor(A, [Count, ChannelsA, Height, Width])</c>.
/// </summary>
public sealed record UnalignedBatch(
    float[] A, float[] B, int Count, int Height, int Width, int ChannelsA, int ChannelsB,
    string[] PathsA, string[] PathsB);
