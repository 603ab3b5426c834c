#!/usr/bin/env pwsh
# Bootstrapper: build the pipeline program only when its sources changed, then run it.
# Same behaviour as build.sh: a stamp over the sources' names and content and the toolchain (so an
# added, edited or deleted file, another SDK or another CPU triggers a build, and a fresh clone with
# the compiled output restored does not), a lock so concurrent runs never build over each other,
# and the program's exit code passed through.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$root = $PSScriptRoot
# NuGet takes only an absolute package folder: a relative one is relative to where this was run.
if ($env:NUGET_PACKAGES -and -not [IO.Path]::IsPathRooted($env:NUGET_PACKAGES)) {
    $env:NUGET_PACKAGES = [IO.Path]::GetFullPath($env:NUGET_PACKAGES, (Get-Location).Path)
}
Set-Location $root

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    [Console]::Error.WriteLine("build.ps1: 'dotnet' was not found on PATH. The pipeline needs the .NET 10 SDK:")
    [Console]::Error.WriteLine('  https://dotnet.microsoft.com/download/dotnet/10.0')
    exit 2
}

$out = Join-Path '.build' 'bin'
$stampFile = Join-Path '.build' 'stamp'
$lockDir = Join-Path '.build' 'lock'
$extensions = @('.cs', '.csproj', '.props', '.targets')

function Get-SourcesStamp {
    $files = Get-ChildItem -Path 'build' -Recurse -File |
        Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' } |
        Where-Object { $extensions -contains $_.Extension -or $_.Name -eq 'packages.lock.json' }
    $files += Get-ChildItem -File -Path 'global.json', 'Directory.Build.props', 'Directory.Packages.props' -ErrorAction SilentlyContinue
    $lines = @($files | ForEach-Object {
        $relative = [IO.Path]::GetRelativePath($root, $_.FullName).Replace('\', '/')
        '{0} {1}' -f $relative, (Get-FileHash -Algorithm SHA256 -LiteralPath $_.FullName).Hash
    })
    $lines += 'arch ' + [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture
    $dotnet = [IO.FileInfo]::new((Get-Command dotnet).Source)
    $resolved = $dotnet.ResolveLinkTarget($true)
    $dotnetRoot = if ($resolved) { Split-Path -Parent $resolved.FullName } else { $dotnet.DirectoryName }
    $lines += Get-ChildItem -Directory -ErrorAction SilentlyContinue -Path (Join-Path $dotnetRoot 'sdk'), (Join-Path $dotnetRoot 'shared' 'Microsoft.NETCore.App') |
        ForEach-Object { 'toolchain ' + $_.Name }
    ($lines | Sort-Object -CaseSensitive) -join "`n"
}

function Test-UpToDate([string] $stamp) {
    (Test-Path (Join-Path $out 'Build.dll')) -and (Test-Path $stampFile) -and
        ((Get-Content -Raw $stampFile) -eq $stamp)
}

$current = Get-SourcesStamp
if (-not (Test-UpToDate $current)) {
    New-Item -ItemType Directory -Force '.build' | Out-Null
    $announced = $false
    while ($true) {
        try { New-Item -ItemType Directory -Path $lockDir -ErrorAction Stop | Out-Null; break }
        catch {
            if (-not $announced) { [Console]::Error.WriteLine('build.ps1: waiting for another build of the pipeline to finish...'); $announced = $true }
            # A lock left by a killed run is older than any real build.
            $lock = Get-Item $lockDir -ErrorAction SilentlyContinue
            if ($lock -and $lock.LastWriteTimeUtc -lt (Get-Date).ToUniversalTime().AddMinutes(-10)) { Remove-Item $lockDir -ErrorAction SilentlyContinue }
            Start-Sleep -Milliseconds 200
        }
    }
    try {
        $current = Get-SourcesStamp
        if (-not (Test-UpToDate $current)) {
            [Console]::Error.WriteLine('build.ps1: building the pipeline (sources changed)...')
            # ReadyToRun on Linux: precompiled code halves the start-up and the SSH handshake's JIT time.
            $compile = @('build')
            if ($IsLinux) {
                $arch = [System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture
                $rid = @{ 'X64' = 'linux-x64'; 'Arm64' = 'linux-arm64' }["$arch"]
                # The project asks for Native AOT (build.sh's first way): off for this build, kept for its restore (the lock files).
                if ($rid) { $compile = @('publish', '--runtime', $rid, '--self-contained', 'false', '-p:PublishAot=false', '-rp:PublishAot=true', '-p:PublishReadyToRun=true', '-p:UseAppHost=false') }
            }
            # MSBuild's own output only matters when the build fails.
            $log = & dotnet @compile build/Build.csproj --configuration Release --output $out --nologo --verbosity quiet 2>&1
            if ($LASTEXITCODE -ne 0) {
                $log | ForEach-Object { [Console]::Error.WriteLine($_) }
                [Console]::Error.WriteLine('build.ps1: the pipeline program failed to build (see the errors above).')
                exit 1
            }
            Set-Content -NoNewline -Path $stampFile -Value $current
        }
    }
    finally {
        Remove-Item $lockDir -ErrorAction SilentlyContinue
    }
}

& dotnet (Join-Path $out 'Build.dll') @args
exit $LASTEXITCODE
