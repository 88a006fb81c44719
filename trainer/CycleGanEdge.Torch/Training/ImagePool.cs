using TorchSharp;
using static TorchSharp.torch;

namespace CycleGanEdge.Torch.Training;

/// <summary>
/// The reference's util/image_pool.py: a history of up to <c>size</c> generated images. Once full,
/// each query returns, with probability 1/2, a stored image (replaced by the new one) instead of
/// the new image, so the discriminators also see older generator outputs (Shrivastava et al.).
/// The pool owns its tensors (outside any dispose scope) and is saved with the training state.
/// </summary>
public sealed class ImagePool : IDisposable
{
    private readonly List<Tensor> _images = [];

    public ImagePool(int size) => Size = size;

    public int Size { get; }
    public int Count => _images.Count;
    public IReadOnlyList<Tensor> Images => _images;

    /// <summary>Images [N,C,H,W] in, the same number out; draws come from <paramref name="random"/> only.</summary>
    public Tensor Query(Tensor images, Random random)
    {
        if (Size == 0) return images.detach();
        var picked = new List<Tensor>((int)images.shape[0]);
        for (long i = 0; i < images.shape[0]; i++)
        {
            Tensor image = images.narrow(0, i, 1).detach();
            if (_images.Count < Size)
            {
                _images.Add(Keep(image));
                picked.Add(image);
            }
            else if (random.NextDouble() > 0.5)
            {
                int slot = random.Next(Size);
                picked.Add(_images[slot].clone());
                _images[slot].Dispose();
                _images[slot] = Keep(image);
            }
            else
            {
                picked.Add(image);
            }
        }
        return cat(picked, 0);
    }

    /// <summary>Replaces the contents (e.g. from a checkpoint); the tensors are copied.</summary>
    public void Load(IEnumerable<Tensor> images)
    {
        Clear();
        foreach (var image in images.Take(Size)) _images.Add(Keep(image));
    }

    public void Dispose() => Clear();

    private void Clear()
    {
        foreach (var image in _images) image.Dispose();
        _images.Clear();
    }

    private static Tensor Keep(Tensor image) => image.detach().clone().DetachFromDisposeScope();
}
