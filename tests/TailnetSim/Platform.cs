// The simulator stands in for Linux binaries (unix sockets, file modes, signals).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
