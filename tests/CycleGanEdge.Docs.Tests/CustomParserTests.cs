using System.CommandLine;
using System.CommandLine.Parsing;
using CycleGanEdge.Export;
using CycleGanEdge.Tests.Shared;

namespace CycleGanEdge.Docs.Tests;

/// <summary>
/// No option's own parser (CustomParser) of the three programs throws or hands System.CommandLine a value it cannot
/// take (a null for a value type threw InvalidCastException from --tile auto): each meets good and bad words, and
/// the parse and the bound value must come back without an exception.
/// </summary>
public class CustomParserTests
{
    private static readonly string[] Values = ["auto", "0", "1", "-1", "", "x", "1:auto:4", "2:1:2", "0/4", "99999999999999999999", "NaN"];

    public static TheoryData<string> Programs() => ["cyclegan-run", "cyclegan-export", "cyclegan-train"];

    [Theory]
    [MemberData(nameof(Programs))]
    public void No_custom_parser_throws(string program)
    {
        Func<Command> create = program switch
        {
            "cyclegan-run" => CycleGanEdge.Run.Program.CreateRoot,
            "cyclegan-export" => ExportCommand.Create,
            _ => CycleGanEdge.Trainer.Program.CreateRoot,
        };
        var problems = new List<string>();
        int parsers = 0;
        foreach (string path in CommandLineSweep.CommandPaths(create()))
        {
            string[] names = path.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var command = names.Aggregate(create(), (c, n) => c.Subcommands.Single(s => s.Name == n));
            foreach (var option in command.Options.Where(o => o.GetType().GetProperty("CustomParser")?.GetValue(o) is not null))
            {
                parsers++;
                foreach (string value in Values)
                {
                    try
                    {
                        var parse = create().Parse([.. names, option.Name, value]);
                        // A refused value is reported by the parse (its errors); an accepted one must also be readable.
                        foreach (var result in parse.CommandResult.Children.OfType<OptionResult>())
                            if (!result.Implicit && !parse.Errors.Any(e => e.SymbolResult == result))
                                _ = result.GetValueOrDefault<object?>();
                    }
                    catch (InvalidOperationException)
                    {
                        // System.CommandLine's way to say a validator read a value the parser refused; CommandLineHost
                        // prints it as the usage error it is (exit 2).
                    }
                    catch (Exception e)
                    {
                        problems.Add($"{program} {path} {option.Name} '{value}': {e.GetType().Name}: {e.Message}");
                    }
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join('\n', problems));
        if (program == "cyclegan-run") Assert.True(parsers >= 2, "--tile and --jobs have custom parsers: is the search broken?");
    }
}
