using System.Text;
using Build.Site;

namespace Build.Tests.Site;

/// <summary>
/// The streaming extractor against a full HTML parser (<see cref="DomLinks"/>): on every markup case that
/// decides whether text is an attribute of an element, both must find the same links.
/// </summary>
public sealed class HtmlLinkExtractorTests
{
    private static PageLinks Extract(string html) => HtmlLinkExtractor.Extract(Encoding.UTF8.GetBytes(html));

    private static string Page(string body) => $"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>";

    public static TheoryData<string, string[]> Cases => new()
    {
        { """<a href="a.html">x</a><img src='b.png'><img srcset=c.png>""", ["Href=a.html", "Src=b.png", "Srcset=c.png"] },
        { """<A HREF="a.html">x</A><IMG Src=b.png>""", ["Href=a.html", "Src=b.png"] },
        { """<a href="x.html?a=1&amp;b=2">x</a><img src="caf&eacute;&#47;p&#x6E;g.png">""", ["Href=x.html?a=1&b=2", "Src=café/png.png"] },
        { """<!-- <a href="hidden.html"> --><a href="shown.html">x</a>""", ["Href=shown.html"] },
        { """<!--><a href="after-empty-comment.html">x</a>""", ["Href=after-empty-comment.html"] },
        { """<!---><a href="after-short-comment.html">x</a>""", ["Href=after-short-comment.html"] },
        { """<!-- a --!><a href="after-bang.html">x</a>""", ["Href=after-bang.html"] },
        { """<!-- -- <a href="no.html"> - --><a href="yes.html">x</a>""", ["Href=yes.html"] },
        { """<script>var s = '<a href="in-script.html">';</script><a href="after-script.html">x</a>""", ["Href=after-script.html"] },
        { """<SCRIPT src="app.js">document.write("</scripts><img src=no.png>")</SCRIPT ><img src="yes.png">""", ["Src=app.js", "Src=yes.png"] },
        { """<style>/* <img src=in-style.png> */</style><img src="after-style.png">""", ["Src=after-style.png"] },
        { """<textarea><img src=in-textarea.png></textarea><img src="after.png">""", ["Src=after.png"] },
        { """<iframe src="frame.html"><a href=in-iframe.html></iframe>""", ["Src=frame.html"] },
        { """<noscript><a href="in-noscript.html">x</a></noscript>""", ["Href=in-noscript.html"] },
        { """<a href="first.html" HREF="second.html">x</a>""", ["Href=first.html"] },
        { """<a title="x > y" href="after-gt.html">x</a><a title='it"s' href='single.html'>y</a>""", ["Href=after-gt.html", "Href=single.html"] },
        { "<a\nhref\n=\n\"spaced.html\"\n>x</a><a href=bare.html/>y</a>", ["Href=spaced.html", "Href=bare.html/"] },
        { """<a href='glued.html'title=x>x</a><a href>empty</a>""", ["Href=glued.html", "Href="] },
        { """<p>1 < 2 and 3 <4 </ p><a href="after-text-lt.html">x</a><? php ?><a href="after-pi.html">y</a>""", ["Href=after-text-lt.html", "Href=after-pi.html"] },
        { """<svg><style><a href="svg-style.html"></a></style><image href="pic.svg"/></svg><style><img src=no.png></style>""", ["Href=svg-style.html", "Href=pic.svg"] },
        { """<svg><![CDATA[ <a href="no.html"> ]]><a href="yes.html"/></svg>""", ["Href=yes.html"] },
        { """<img src="a.png" srcset="a.png 1x, /img/a@2x.png 2x">""", ["Src=a.png", "Srcset=a.png 1x, /img/a@2x.png 2x"] },
        { """<a href="before-base.html">x</a><base href="/assets/"><img src="pic.png"><base href="/ignored/">""", ["Href=before-base.html", "Src=pic.png"] },
        { """<link rel="stylesheet" href="/css/style.css"><script src="/js/app.js"></script>""", ["Href=/css/style.css", "Src=/js/app.js"] },
        { """<a href="x.html">x</a><plaintext><a href="plain.html">""", ["Href=x.html"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Finds_what_a_dom_parser_finds(string body, string[] expected)
    {
        var html = Page(body);

        var streamed = Extract(html);

        Assert.Equal(expected.Order(StringComparer.Ordinal), streamed.Links.Select(l => $"{l.Attribute}={l.Value}").Order(StringComparer.Ordinal));
        Assert.Equal(DomLinks.Canonical(DomLinks.Of(html)), DomLinks.Canonical(streamed));
    }

    [Fact]
    public void The_first_base_href_is_reported_and_not_taken_as_a_link()
    {
        var html = Page("""<a href="a.html">x</a><base target="_top"><base href="/first/"><base href="/second/">""");

        var links = Extract(html);

        Assert.Equal("/first/", links.BaseHref);
        Assert.Equal(DomLinks.Of(html).BaseHref, links.BaseHref);
        Assert.Equal(["a.html"], links.Links.Select(l => l.Value));
    }

    [Fact]
    public void A_tag_cut_off_by_the_end_of_the_file_is_dropped()
    {
        const string html = """<a href="kept.html">x</a><img src="cut.png" alt="no end""";

        Assert.Equal(["kept.html"], Extract(html).Links.Select(l => l.Value));
        Assert.Equal(DomLinks.Canonical(DomLinks.Of(html)), DomLinks.Canonical(Extract(html)));
    }

    [Fact]
    public void An_unclosed_comment_or_script_hides_the_rest_of_the_page()
    {
        Assert.Empty(Extract("""<!-- <a href="a.html">""").Links);
        Assert.Empty(Extract("""<script> <a href="a.html">""").Links);
    }

    [Fact]
    public void Multi_byte_text_before_and_inside_values_is_decoded_as_utf8()
    {
        var html = Page("""<p>Über uns — ünïcödé</p><a href="/tags/über/">tag</a><img src="my%20post/%C3%BCber.png">""");

        Assert.Equal(["/tags/über/", "my%20post/%C3%BCber.png"], Extract(html).Links.Select(l => l.Value));
    }
}
