using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace CycleGanEdge.Runtime.Tests;

/// <summary>The layers of docs/architecture.md, read from the .csproj files: what the page says is what the build does.</summary>
public partial class ArchitectureTests
{
    private sealed record Project(string Name, bool IsApp, bool IsTest, IReadOnlyList<string> References, bool UsesTorchSharp, bool UsesOnnxRuntime);

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
                // Native packages come from Directory.Build.targets through these flags; a direct package reference counts too.
                bool Uses(string flag, string package) => Property(flag) == "true"
                    || xml.Descendants("PackageReference").Any(r => (r.Attribute("Include")?.Value ?? "").StartsWith(package, StringComparison.Ordinal));
                return new Project(Path.GetFileNameWithoutExtension(file), Property("OutputType") == "Exe", Property("IsTestProject") == "true", references,
                    Uses("UsesTorchSharp", "TorchSharp"), Uses("UsesOnnxRuntime", "Microsoft.ML.OnnxRuntime"));
            })];
    }

    /// <summary>The one test project that references every app: it runs the command lines the docs show.</summary>
    private const string DocsTests = "CycleGanEdge.Docs.Tests";

    [Fact]
    public void No_library_or_app_references_an_app_and_a_test_project_references_at_most_one()
    {
        var projects = Projects();
        var apps = projects.Where(p => p.IsApp).Select(p => p.Name).ToHashSet();
        Assert.Contains("CycleGanEdge.Export", apps);
        foreach (var p in projects)
        {
            var appsReferenced = p.References.Where(apps.Contains).ToList();
            if (p.IsTest) Assert.True(appsReferenced.Count <= 1 || p.Name == DocsTests, $"{p.Name} references the apps {string.Join(", ", appsReferenced)}");
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

    /// <summary>The project and every project it references, directly or not.</summary>
    private static List<Project> WithReferences(List<Project> projects, string name)
    {
        var byName = projects.ToDictionary(p => p.Name);
        var seen = new List<Project>();
        var pending = new Stack<string>([name]);
        while (pending.TryPop(out string? next))
            if (seen.All(p => p.Name != next))
            {
                seen.Add(byName[next]);
                foreach (string reference in byName[next].References) pending.Push(reference);
            }
        return seen;
    }

    [Theory]
    [InlineData("CycleGanEdge.Core")]
    [InlineData("CycleGanEdge.Runtime")]
    [InlineData("CycleGanEdge.Run")]
    [InlineData("CycleGanEdge.Benchmarks")]
    [InlineData("CycleGanEdge.Runtime.Tests")]
    public void The_runtime_side_and_its_tests_bring_no_torchsharp_even_indirectly(string name)
    {
        var closure = WithReferences(Projects(), name);
        Assert.Contains(closure, p => p.Name == "CycleGanEdge.Core");
        Assert.Empty(closure.Where(p => p.UsesTorchSharp).Select(p => p.Name));
    }

    [Fact]
    public void The_shared_base_references_no_project_and_no_onnx_runtime_while_the_trainer_and_exporter_use_it()
    {
        var projects = Projects();
        var core = Assert.Single(projects, p => p.Name == "CycleGanEdge.Core");
        Assert.Empty(core.References);
        Assert.False(core.UsesOnnxRuntime || core.UsesTorchSharp);
        // The flags are read right: the projects that do use the engines are seen to.
        Assert.True(Assert.Single(projects, p => p.Name == "CycleGanEdge.Runtime").UsesOnnxRuntime);
        Assert.True(Assert.Single(projects, p => p.Name == "CycleGanEdge.Torch").UsesTorchSharp);
        foreach (string user in new[] { "CycleGanEdge.Torch", "CycleGanEdge.Exporter" })
            Assert.Contains("CycleGanEdge.Core", Assert.Single(projects, p => p.Name == user).References);
    }

    // | `Project` | kind | `Ref`, `Ref` | what |
    [GeneratedRegex(@"^\| `(CycleGanEdge\.[A-Za-z.]+)` \| [^|]+ \| ([^|]+) \|")]
    private static partial Regex Row();

    [GeneratedRegex(@"`(CycleGanEdge\.[A-Za-z.]+)`")]
    private static partial Regex Names();
}
