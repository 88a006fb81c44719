using CycleGanEdge.Core.Imaging;

namespace CycleGanEdge.Runtime.Tests.Imaging;

public class AtomicFileTests
{
    [Fact]
    public void Writes_and_replaces_leaving_no_temp_files()
    {
        string dir = TestFiles.TempFolder();
        string path = Path.Combine(dir, "out.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        AtomicFile.WriteAllBytes(path, [4, 5]);
        Assert.Equal(new byte[] { 4, 5 }, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void Failure_names_the_path_and_leaves_nothing_behind()
    {
        string dir = TestFiles.TempFolder();
        string path = Path.Combine(dir, "missing-folder", "out.png");
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(path, [1]));
        Assert.StartsWith(path + ": cannot write", e.Message);
        // Target is a folder: the rename fails after the temp file was written; the temp file must go.
        string folderTarget = Path.Combine(dir, "taken");
        Directory.CreateDirectory(folderTarget);
        Assert.ThrowsAny<IOException>(() => AtomicFile.WriteAllBytes(folderTarget, [1, 2]));
        Assert.Empty(Directory.GetFiles(dir));
    }
}
