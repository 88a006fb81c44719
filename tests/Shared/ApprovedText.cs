namespace CycleGanEdge.Tests.Shared;

/// <summary>
/// Approved texts (--help of every command, the values the parser accepts) kept beside the tests, so a change shows
/// up in review as a changed file. A mismatch writes NAME.received.txt next to the approved file for comparison; a
/// test never copies it over (do that by hand, in the commit that changes the option on purpose).
/// </summary>
internal static class ApprovedText
{
    public static void AssertMatches(string approvedFolder, string name, string actual)
    {
        string approvedPath = Path.Combine(approvedFolder, name + ".txt");
        string receivedPath = Path.Combine(approvedFolder, name + ".received.txt");
        string normalized = actual.ReplaceLineEndings("\n").TrimEnd() + "\n";
        string? approved = File.Exists(approvedPath) ? File.ReadAllText(approvedPath).ReplaceLineEndings("\n").TrimEnd() + "\n" : null;
        if (approved == normalized)
        {
            File.Delete(receivedPath);
            return;
        }
        File.WriteAllText(receivedPath, normalized);
        Assert.Fail(approved is null
            ? $"no approved text {approvedPath}; review {receivedPath} and rename it"
            : $"{approvedPath} differs from the received text; compare with {receivedPath}");
    }
}
