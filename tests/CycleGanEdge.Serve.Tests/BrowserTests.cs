using CycleGanEdge.Tests.Shared;
using PuppeteerSharp;

namespace CycleGanEdge.Serve.Tests;

/// <summary>Runs only where Debian's chromium is installed (scripts/setup.sh installs it where apt-get works); never downloads a browser.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Chromium))
            Skip = $"{Chromium} is not installed (Debian: apt-get install chromium, which scripts/setup.sh does where apt-get is there)";
    }
}

public class BrowserTests
{
    [ChromiumFact]
    public async Task The_page_uploads_an_image_and_shows_the_same_answer_as_the_api()
    {
        await using var host = await ServiceHost.StartAsync();
        string file = ServiceHost.RawEmoji[1];
        using var api = await host.TranslateAsync(await File.ReadAllBytesAsync(file), accept: "image/png");
        byte[] expected = await api.Content.ReadAsByteArrayAsync();

        await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Chromium,
            Headless = true,
            // Root in a container has no user namespace for chromium's sandbox.
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run"],
            Timeout = 60_000,
        });
        await using var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 900, Height = 500 });
        await page.GoToAsync(host.Address.ToString(), new NavigationOptions { Timeout = 30_000 });
        await page.WaitForFunctionAsync("() => document.querySelector('#model').options.length > 0", new WaitForFunctionOptions { Timeout = 30_000 });
        Assert.Equal("noto2twemoji", await page.EvaluateExpressionAsync<string>("document.querySelector('#model').value"));

        var input = await page.QuerySelectorAsync("#file");
        await input.UploadFileAsync(file);
        await page.WaitForFunctionAsync("() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error'", new WaitForFunctionOptions { Timeout = 30_000 });
        Assert.Equal("done", await page.EvaluateExpressionAsync<string>("document.body.dataset.state"));

        // The bytes the page shows are the bytes the API answers for the same file.
        string shown = await page.EvaluateFunctionAsync<string>(@"async () => {
            const bytes = new Uint8Array(await (await fetch(document.querySelector('#output').src)).arrayBuffer());
            let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); }");
        Assert.Equal(expected, Convert.FromBase64String(shown));
        Assert.True(await page.EvaluateExpressionAsync<bool>("document.querySelector('#input').naturalWidth === 64 && document.querySelector('#output').naturalWidth === 64"));

        using var folder = new TempFolder("browser");
        string screenshot = folder.Sub("page.png");
        await page.ScreenshotAsync(screenshot);
        Assert.True(new FileInfo(screenshot).Length > 1000, "the screenshot is empty");
    }
}
