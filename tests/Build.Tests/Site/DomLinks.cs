using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Build.Site;

namespace Build.Tests.Site;

/// <summary>
/// The reference for <see cref="HtmlLinkExtractor"/>: what a full HTML parser (AngleSharp, a DOM built by
/// the HTML standard's tokenizer and tree builder) says a page's href, src and srcset attributes are.
/// </summary>
internal static class DomLinks
{
    public static PageLinks Of(string html)
    {
        using var document = new HtmlParser().ParseDocument(html);
        var links = new List<PageLink>();
        foreach (var element in document.QuerySelectorAll("[href],[src],[srcset]"))
        {
            if (element.LocalName != TagNames.Base && element.GetAttribute("href") is { } href) links.Add(new PageLink(LinkAttribute.Href, href));
            if (element.GetAttribute("src") is { } src) links.Add(new PageLink(LinkAttribute.Src, src));
            if (element.GetAttribute("srcset") is { } srcset) links.Add(new PageLink(LinkAttribute.Srcset, srcset));
        }
        return new PageLinks(links, document.QuerySelector("base[href]")?.GetAttribute("href"));
    }

    /// <summary>A page's links in a canonical order (the DOM orders an element's attributes by kind, the source by position).</summary>
    public static IEnumerable<string> Canonical(PageLinks links) =>
        links.Links.Select(l => $"{l.Attribute}={l.Value}").Order(StringComparer.Ordinal).Append($"base={links.BaseHref ?? "(none)"}");
}
