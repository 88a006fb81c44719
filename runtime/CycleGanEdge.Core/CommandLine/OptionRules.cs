using System.CommandLine;
using System.Globalization;

namespace CycleGanEdge.Core.CommandLine;

/// <summary>
/// Range rules checked by the parser, so a bad number is a one-line usage error (exit 2) before any work starts,
/// never an exception from deep inside the networks, the exporter or the data loader.
/// </summary>
public static class OptionRules
{
    public static Option<int> AtLeast(this Option<int> option, int min)
    {
        option.Validators.Add(r =>
        {
            int value = r.GetValueOrDefault<int>();
            if (value < min) r.AddError($"{option.Name} must be at least {min}, not {value}");
        });
        return option;
    }

    /// <summary>When given, at least <paramref name="min"/> (leaving the option out keeps its "from the file" meaning).</summary>
    public static Option<int?> AtLeast(this Option<int?> option, int min)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int value && value < min) r.AddError($"{option.Name} must be at least {min}, not {value}");
        });
        return option;
    }

    public static Option<int> Between(this Option<int> option, int min, int max)
    {
        option.Validators.Add(r =>
        {
            int value = r.GetValueOrDefault<int>();
            if (value < min || value > max) r.AddError($"{option.Name} must be {min} to {max}, not {value}");
        });
        return option;
    }

    /// <summary>A finite number greater than <paramref name="min"/> (or equal to it when <paramref name="orEqual"/>).</summary>
    public static Option<double> Above(this Option<double> option, double min, bool orEqual = false)
    {
        option.Validators.Add(r =>
        {
            double value = r.GetValueOrDefault<double>();
            if (!double.IsFinite(value) || value < min || (!orEqual && value == min))
                r.AddError($"{option.Name} must be a number {(orEqual ? "of at least" : "above")} {min.ToString(CultureInfo.InvariantCulture)}, not {value.ToString(CultureInfo.InvariantCulture)}");
        });
        return option;
    }

    /// <summary>A name that is not empty or blank (a run name, a domain name, a graph name).</summary>
    public static Option<string?> NotBlank(this Option<string?> option)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } value && string.IsNullOrWhiteSpace(value)) r.AddError($"{option.Name} cannot be empty");
        });
        return option;
    }

    /// <summary>A folder to write into: it may not exist yet, but a file of that name is a usage error, not an IOException later.</summary>
    public static Option<T> WritableFolder<T>(this Option<T> option) where T : FileSystemInfo?
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<T>() is { } folder && File.Exists(folder.FullName)) r.AddError($"{folder.FullName}: a file, not a folder");
        });
        return option;
    }

    /// <summary>When given, a finite number above <paramref name="min"/> and at most <paramref name="max"/>.</summary>
    public static Option<double?> Between(this Option<double?> option, double min, double max)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double value && !(value > min && value <= max))
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"{option.Name} must be above {min} and at most {max}, not {value}"));
        });
        return option;
    }
}
