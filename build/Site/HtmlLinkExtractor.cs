using System.Net;
using System.Text;

namespace Build.Site;

/// <summary>The attribute a link was written in.</summary>
public enum LinkAttribute
{
    Href,
    Src,
    Srcset,
}

/// <summary>A URL-bearing attribute of a page: which attribute, and its value with character references decoded.</summary>
public readonly record struct PageLink(LinkAttribute Attribute, string Value);

/// <summary>
/// Where a URL-bearing attribute's value lies in the page's bytes, character references not decoded: the checker
/// looks most links up by these bytes and never makes a string of them.
/// </summary>
public readonly record struct RawLink(LinkAttribute Attribute, int Start, int Length);

/// <summary>
/// The <see cref="RawLink"/>s of a page, reused from page to page. Not a <c>List&lt;RawLink&gt;</c>: a framework generic
/// over this struct is compiled only at run time (not ahead of time), and starts as slow unoptimized code.
/// </summary>
public sealed class RawLinks
{
    private RawLink[] _items = new RawLink[256];

    public int Count { get; private set; }

    public void Add(RawLink link)
    {
        if (Count == _items.Length)
        {
            var larger = new RawLink[_items.Length * 2];
            _items.AsSpan().CopyTo(larger);
            _items = larger;
        }
        _items[Count++] = link;
    }

    public void Clear() => Count = 0;

    /// <summary>Drops the links from <paramref name="count"/> on (those of a tag cut off by the end of the page).</summary>
    public void Truncate(int count) => Count = Math.Min(Count, count);

    public ReadOnlySpan<RawLink> AsSpan() => _items.AsSpan(0, Count);
}

/// <summary>What <see cref="HtmlLinkExtractor.Extract(ReadOnlySpan{byte})"/> found in a page.</summary>
/// <param name="BaseHref">The <c>href</c> of the page's first <c>&lt;base href&gt;</c>, or null.</param>
public readonly record struct PageLinks(IReadOnlyList<PageLink> Links, string? BaseHref);

/// <summary>
/// Finds the <c>href</c>, <c>src</c> and <c>srcset</c> attributes of every element of an HTML page in one
/// pass over its UTF-8 bytes, without building a document: the check only needs these attributes, and a
/// full DOM per page cost most of its time.
/// </summary>
/// <remarks>
/// Follows the HTML tokenizer where it decides what is markup: comments (<c>&lt;!-- --&gt;</c>, also
/// <c>&lt;!--&gt;</c>), doctype and other <c>&lt;!...&gt;</c>, <c>&lt;?...&gt;</c>, and the text of
/// <c>script</c>, <c>style</c>, <c>xmp</c>, <c>iframe</c>, <c>noembed</c>, <c>noframes</c>, <c>title</c>
/// and <c>textarea</c> hold no elements (but inside <c>svg</c> and <c>math</c> they are ordinary);
/// <c>plaintext</c> ends the markup. Attribute names are case-insensitive, the first of duplicate
/// attributes wins, values may be double-quoted, single-quoted or bare, and a tag cut off by the end of
/// the file is dropped. Not modelled: the script-data escape states (<c>&lt;!--&lt;script&gt;</c> inside
/// a script) and the tree builder's repairs, neither of which adds or removes an attribute of a page
/// that a static site generator writes.
/// </remarks>
public static class HtmlLinkExtractor
{
    public static PageLinks Extract(ReadOnlySpan<byte> html)
    {
        var links = new List<PageLink>();
        var baseHref = Extract(html, links);
        return new PageLinks(links, baseHref);
    }

    /// <summary>Adds the page's links to <paramref name="links"/>; returns the first base element's href, or null.</summary>
    public static string? Extract(ReadOnlySpan<byte> html, List<PageLink> links)
    {
        var raw = new RawLinks();
        var baseHref = Extract(html, raw);
        foreach (var link in raw.AsSpan()) links.Add(new PageLink(link.Attribute, Decode(html.Slice(link.Start, link.Length))));
        return baseHref is { } b ? Decode(html.Slice(b.Start, b.Length)) : null;
    }

    /// <summary>
    /// Adds where the page's links are to <paramref name="links"/>, without decoding them; returns where the first base
    /// element's href is, or null.
    /// </summary>
    public static RawLink? Extract(ReadOnlySpan<byte> html, RawLinks links)
    {
        RawLink? baseHref = null;
        var foreign = 0; // depth of svg/math, where script, style and title hold markup
        var i = 0;
        while (i < html.Length)
        {
            var lt = html[i..].IndexOf((byte)'<');
            if (lt < 0) break;
            i += lt + 1;
            if (i >= html.Length) break;
            var c = html[i];
            if (IsAsciiLetter(c))
            {
                var tagStart = links.Count;
                var end = Tag(html, i, links, out var name, out var selfClosing, ref baseHref, isEndTag: false);
                if (end < 0)
                {
                    // Cut off by the end of the file: the tokenizer emits no tag.
                    links.Truncate(tagStart);
                    break;
                }
                i = end;
                if (IsForeignRoot(name))
                {
                    if (!selfClosing) foreign++;
                    continue;
                }
                if (foreign > 0) continue;
                if (name.Length == 9 && Ascii.EqualsIgnoreCase(name, "plaintext"u8)) break;
                if (IsRawText(name)) i = EndOfRawText(html, i, name);
            }
            else if (c == '/')
            {
                if (i + 1 < html.Length && IsAsciiLetter(html[i + 1]))
                {
                    RawLink? ignored = null;
                    var end = Tag(html, i + 1, links: null, out var name, out _, ref ignored, isEndTag: true);
                    if (end < 0) break;
                    i = end;
                    if (foreign > 0 && IsForeignRoot(name)) foreign--;
                }
                else
                {
                    // "</>" is dropped; "</ ..." is a bogus comment up to '>'.
                    i = SkipPast(html, i, (byte)'>');
                }
            }
            else if (c == '!')
            {
                i = Declaration(html, i + 1, foreign > 0);
            }
            else if (c == '?')
            {
                i = SkipPast(html, i, (byte)'>');
            }
            // Anything else: the '<' was text.
        }
        return baseHref;
    }

    /// <summary>
    /// Reads a tag from its name (at <paramref name="i"/>) to its '&gt;'; returns the index after it, or -1
    /// at the end of the file. Start tags add their href/src/srcset to <paramref name="links"/>.
    /// </summary>
    private static int Tag(ReadOnlySpan<byte> html, int i, RawLinks? links, out ReadOnlySpan<byte> name, out bool selfClosing,
        ref RawLink? baseHref, bool isEndTag)
    {
        var nameStart = i;
        while (i < html.Length && !EndsName(html[i])) i++;
        name = html[nameStart..i];
        var isBase = !isEndTag && Ascii.EqualsIgnoreCase(name, "base"u8);
        selfClosing = false;
        var seen = 0; // bits of href, src, srcset already taken: the first of duplicate attributes wins
        while (true)
        {
            while (i < html.Length && (IsSpace(html[i]) || html[i] == '/'))
            {
                selfClosing = html[i] == '/';
                i++;
            }
            if (i >= html.Length) return -1;
            if (html[i] == '>') return i + 1;
            selfClosing = false;

            // An attribute name may start with '=' (a parse error that keeps it in the name).
            var attrStart = i++;
            while (i < html.Length && !EndsName(html[i]) && html[i] != '=') i++;
            var attrName = html[attrStart..i];
            while (i < html.Length && IsSpace(html[i])) i++;

            int valueStart = i, valueLength = 0;
            if (i < html.Length && html[i] == '=')
            {
                i++;
                while (i < html.Length && IsSpace(html[i])) i++;
                if (i >= html.Length) return -1;
                var quote = html[i];
                if (quote is (byte)'"' or (byte)'\'')
                {
                    var close = html[(i + 1)..].IndexOf(quote);
                    if (close < 0) return -1;
                    valueStart = i + 1;
                    valueLength = close;
                    i += close + 2;
                }
                else if (quote != '>')
                {
                    valueStart = i;
                    while (i < html.Length && !(html[i] <= '>' && (IsSpace(html[i]) || html[i] == '>'))) i++;
                    valueLength = i - valueStart;
                }
            }

            if (links is null) continue;
            var attribute = AttributeOf(attrName);
            if (attribute is not { } a) continue;
            var bit = 1 << (int)a;
            if ((seen & bit) != 0) continue;
            seen |= bit;
            var link = new RawLink(a, valueStart, valueLength);
            if (isBase && a == LinkAttribute.Href) baseHref ??= link;
            else links.Add(link);
        }
    }

    /// <summary>After "&lt;!": a comment, a CDATA section (inside svg/math) or a doctype/bogus comment.</summary>
    private static int Declaration(ReadOnlySpan<byte> html, int i, bool foreign)
    {
        var rest = html[i..];
        if (rest.StartsWith("--"u8))
        {
            var j = i + 2;
            // "<!-->" and "<!--->" close at once.
            if (j < html.Length && html[j] == '>') return j + 1;
            if (j + 1 < html.Length && html[j] == '-' && html[j + 1] == '>') return j + 2;
            while (true)
            {
                var dashes = html[j..].IndexOf("--"u8);
                if (dashes < 0) return html.Length;
                var k = j + dashes + 2;
                if (k < html.Length && html[k] == '>') return k + 1;
                if (k + 1 < html.Length && html[k] == '!' && html[k + 1] == '>') return k + 2;
                j += dashes + 1;
            }
        }
        if (foreign && rest.StartsWith("[CDATA["u8))
        {
            var close = rest.IndexOf("]]>"u8);
            return close < 0 ? html.Length : i + close + 3;
        }
        return SkipPast(html, i, (byte)'>');
    }

    /// <summary>The index of the "&lt;/name" that ends a raw-text element (followed by space, '/' or '&gt;'), or the end of the file.</summary>
    private static int EndOfRawText(ReadOnlySpan<byte> html, int i, ReadOnlySpan<byte> name)
    {
        while (true)
        {
            var lt = html[i..].IndexOf("</"u8);
            if (lt < 0) return html.Length;
            var at = i + lt;
            var after = at + 2 + name.Length;
            if (after < html.Length && Ascii.EqualsIgnoreCase(html.Slice(at + 2, name.Length), name)
                && (IsSpace(html[after]) || html[after] == '/' || html[after] == '>'))
                return at;
            i = at + 2;
        }
    }

    /// <summary>Space, '/' or '&gt;': the end of a tag's or an attribute's name. Name bytes are mostly letters, above '&gt;'.</summary>
    private static bool EndsName(byte c) => c <= (byte)'>' && (IsSpace(c) || c is (byte)'/' or (byte)'>');

    private static int SkipPast(ReadOnlySpan<byte> html, int i, byte b)
    {
        var at = html[i..].IndexOf(b);
        return at < 0 ? html.Length : i + at + 1;
    }

    private static LinkAttribute? AttributeOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 when Ascii.EqualsIgnoreCase(name, "src"u8) => LinkAttribute.Src,
        4 when Ascii.EqualsIgnoreCase(name, "href"u8) => LinkAttribute.Href,
        6 when Ascii.EqualsIgnoreCase(name, "srcset"u8) => LinkAttribute.Srcset,
        _ => null,
    };

    /// <summary>An attribute value as the page means it: UTF-8, character references decoded.</summary>
    public static string Decode(ReadOnlySpan<byte> value)
    {
        var text = Encoding.UTF8.GetString(value);
        return text.Contains('&') ? WebUtility.HtmlDecode(text) : text;
    }

    // By length first: these run on every tag, and most tags are none of them.
    private static bool IsRawText(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 => Ascii.EqualsIgnoreCase(name, "xmp"u8),
        5 => Ascii.EqualsIgnoreCase(name, "style"u8) || Ascii.EqualsIgnoreCase(name, "title"u8),
        6 => Ascii.EqualsIgnoreCase(name, "script"u8) || Ascii.EqualsIgnoreCase(name, "iframe"u8),
        7 => Ascii.EqualsIgnoreCase(name, "noembed"u8),
        8 => Ascii.EqualsIgnoreCase(name, "textarea"u8) || Ascii.EqualsIgnoreCase(name, "noframes"u8),
        _ => false,
    };

    private static bool IsForeignRoot(ReadOnlySpan<byte> name) =>
        name.Length switch
        {
            3 => Ascii.EqualsIgnoreCase(name, "svg"u8),
            4 => Ascii.EqualsIgnoreCase(name, "math"u8),
            _ => false,
        };

    private static bool IsAsciiLetter(byte c) => (uint)((c | 0x20) - 'a') <= 'z' - 'a';

    // HTML's whitespace in tags: tab, line feed, form feed, carriage return, space.
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r' or (byte)'\f';
}
