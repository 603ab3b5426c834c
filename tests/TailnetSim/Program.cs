using TailnetSim;

// The role comes from the first argument (the wrapper scripts pass it) or from the program's name.
var role = args.Length > 0 && args[0] is "tailscale" or "tailscaled" ? args[0] : Path.GetFileNameWithoutExtension(Environment.GetCommandLineArgs()[0]);
var rest = args.Length > 0 && args[0] == role ? args[1..] : args;
return role switch
{
    "tailscaled" => await Daemon.RunAsync(rest),
    "tailscale" => await Cli.RunAsync(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: TailnetSim tailscale|tailscaled [args...]");
    return 2;
}
