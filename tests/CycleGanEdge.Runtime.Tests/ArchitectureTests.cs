using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>The layers of docs/architecture.md, read from the .csproj files: what the page says is what the build does.</summary>
public partial class ArchitectureTests
{
    private sealed record Project(string Name, bool IsApp, bool IsTest, IReadOnlyList<string> References);

    private static string RepoRoot([CallerFilePath] string path = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));

    private static List<Project> Projects()
    {
        string root = RepoRoot();
        return [.. new[] { "trainer", "exporter", "runtime", "tests" }
            .SelectMany(folder => Directory.EnumerateFiles(Path.Combine(root, folder), "*.csproj", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(file =>
            {
                var xml = XDocument.Load(file);
                string Property(string name) => xml.Descendants(name).FirstOrDefault()?.Value ?? "";
                var references = xml.Descendants("ProjectReference")
                    .Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value.Replace('\\', '/')))
                    .Order().ToList();
                return new Project(Path.GetFileNameWithoutExtension(file), Property("OutputType") == "Exe", Property("IsTestProject") == "true", references);
            })];
    }

    [Fact]
    public void No_library_or_app_references_an_app_and_a_test_project_references_at_most_one()
    {
        var projects = Projects();
        var apps = projects.Where(p => p.IsApp).Select(p => p.Name).ToHashSet();
        Assert.Contains("CycleGanEdge.Export", apps);
        foreach (var p in projects)
        {
            var appsReferenced = p.References.Where(apps.Contains).ToList();
            if (p.IsTest) Assert.True(appsReferenced.Count <= 1, $"{p.Name} references the apps {string.Join(", ", appsReferenced)}");
            else Assert.True(appsReferenced.Count == 0, $"{p.Name} references the app(s) {string.Join(", ", appsReferenced)}");
        }
    }

    [Fact]
    public void Architecture_page_lists_every_project_with_its_references()
    {
        var rows = new Dictionary<string, List<string>>();
        foreach (string line in File.ReadLines(Path.Combine(RepoRoot(), "docs", "architecture.md")))
        {
            var m = Row().Match(line);
            if (m.Success)
                rows[m.Groups[1].Value] = [.. Names().Matches(m.Groups[2].Value).Select(n => n.Groups[1].Value).Order()];
        }
        foreach (var p in Projects())
        {
            Assert.True(rows.ContainsKey(p.Name), $"docs/architecture.md has no row for {p.Name}");
            Assert.Equal(p.References, rows[p.Name]);
        }
    }

    // | `Project` | kind | `Ref`, `Ref` | what |
    [GeneratedRegex(@"^\| `(CycleGanEdge\.[A-Za-z.]+)` \| [^|]+ \| ([^|]+) \|")]
    private static partial Regex Row();

    [GeneratedRegex(@"`(CycleGanEdge\.[A-Za-z.]+)`")]
    private static partial Regex Names();
}
