using Build.Testing;
using Build.Tests.Support;

namespace Build.Tests.Testing;

public sealed class TrxTotalsTests
{
    [Fact]
    public void Totals_add_up_every_results_file_and_count_errors_timeouts_and_aborts_as_failures()
    {
        using var dir = new TempDir("trx");
        const string ns = "http://microsoft.com/schemas/VisualStudio/TeamTest/2010";
        var a = dir.File("a.trx", $"""<TestRun xmlns="{ns}"><ResultSummary outcome="Failed"><Counters total="12" passed="9" failed="1" error="1" timeout="0" aborted="0" notExecuted="1" /></ResultSummary></TestRun>""");
        var b = dir.File("b.trx", $"""<TestRun xmlns="{ns}"><ResultSummary outcome="Completed"><Counters total="5" passed="4" failed="0" timeout="1" notExecuted="0" /></ResultSummary></TestRun>""");
        var empty = dir.File("c.trx", $"""<TestRun xmlns="{ns}" />""");

        Assert.Equal(new TrxTotals(13, 3, 1), TrxTotals.Read([a, b, empty]));
    }
}
