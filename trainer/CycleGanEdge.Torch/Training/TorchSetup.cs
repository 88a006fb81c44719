using System.Runtime.InteropServices;

namespace CycleGanEdge.Torch.Training;

/// <summary>Process-wide libtorch settings for training and benchmarks.</summary>
public static class TorchSetup
{
    private static int _done;

    /// <summary>
    /// On CPUs NNPACK cannot use, libtorch 2.10 checks NNPACK before every convolution and prints
    /// "Could not initialize NNPACK! Reason: Unsupported hardware." each time (thousands of lines per
    /// second, and measurable time). TorchSharp has no switch for it, so we call libtorch's own
    /// at::globalContext().setUserEnabledNNPACK(false); NNPACK is only used for batches of 16+ anyway.
    /// If the symbols are not there (another libtorch), nothing changes.
    /// </summary>
    public static void DisableNnpack()
    {
        if (Interlocked.Exchange(ref _done, 1) == 1) return;
        try
        {
            _ = TorchSharp.torch.get_num_threads(); // makes sure TorchSharp has loaded libtorch
            SetUserEnabledNnpack(GlobalContext(), false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    // DllImport rather than LibraryImport: this project does not allow unsafe code, and these are plain C ABI calls.
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNnpack(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
