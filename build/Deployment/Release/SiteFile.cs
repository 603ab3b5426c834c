using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Build.Deployment.Release;

/// <summary>What <c>lstat</c> says a path is.</summary>
public enum SiteFileKind { Missing, Regular, Directory, Symlink, Fifo, Socket, CharacterDevice, BlockDevice, Other }

/// <summary>
/// The site's files as the kernel sees them. .NET cannot tell a FIFO, socket or device from a regular file
/// without opening it, and opening a FIFO blocks until a writer appears (uncancellably), so the type comes
/// from <c>statx(AT_SYMLINK_NOFOLLOW)</c> (its layout is the same on every Linux architecture) before
/// anything is opened, and files are opened non-blocking and checked again on the open descriptor.
/// </summary>
public static class SiteFile
{
    /// <summary>The type of <paramref name="path"/> itself (a symlink is not followed) and its permission bits.</summary>
    public static (SiteFileKind Kind, int Mode) Lstat(string path)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxMode, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR) return (SiteFileKind.Missing, 0);
            throw new IOException($"cannot read the type of {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        return Decode(buffer);
    }

    /// <summary>The canonical absolute path (every symlink resolved), or null when it does not resolve.</summary>
    public static string? RealPath(string path)
    {
        var resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            free(resolved);
        }
    }

    /// <summary>
    /// Opens a regular file for reading without ever blocking on a FIFO (<c>O_NONBLOCK</c>) or following a
    /// final symlink (<c>O_NOFOLLOW</c>), then checks on the descriptor that it is a regular file: whatever
    /// replaced the path since it was scanned is refused rather than read.
    /// </summary>
    public static FileStream OpenRegular(string path) => new(OpenRegularHandle(path, out _), FileAccess.Read, 1);

    /// <summary>
    /// <see cref="OpenRegular"/> as a bare handle for <see cref="RandomAccess"/> reads, with the size the descriptor
    /// had when it was checked (a hint for the read buffer: what counts is what the reads return).
    /// </summary>
    public static SafeFileHandle OpenRegularHandle(string path, out long size)
    {
        var fd = open(path, OpenFlags());
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            Span<byte> buffer = stackalloc byte[StatxSize];
            if (statx(fd, "", AtEmptyPath, StatxType | StatxMode | StatxSizeMask, ref MemoryMarshal.GetReference(buffer)) != 0)
                throw new IOException($"cannot read the type of {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            var (kind, _) = Decode(buffer);
            if (kind != SiteFileKind.Regular)
                throw new IOException($"{path} is not a regular file");
            size = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(buffer[StatxSizeOffset..]), long.MaxValue);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Files 0644, or 0755 when any execute bit is set: no group- or other-writable bit reaches a server.</summary>
    public static int NormalizedFileMode(int mode) => (mode & 0b001_001_001) != 0 ? 0b111_101_101 : 0b110_100_100;

    public static string Describe(SiteFileKind kind) => kind switch
    {
        SiteFileKind.Fifo => "a FIFO (named pipe)",
        SiteFileKind.Socket => "a socket",
        SiteFileKind.CharacterDevice => "a character device",
        SiteFileKind.BlockDevice => "a block device",
        SiteFileKind.Symlink => "a symbolic link",
        SiteFileKind.Directory => "a directory",
        SiteFileKind.Missing => "missing",
        _ => "not a regular file",
    };

    private static (SiteFileKind, int) Decode(ReadOnlySpan<byte> statxBuffer)
    {
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(statxBuffer[StatxModeOffset..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => SiteFileKind.Regular,
            0x4000 => SiteFileKind.Directory,
            0xA000 => SiteFileKind.Symlink,
            0x1000 => SiteFileKind.Fifo,
            0xC000 => SiteFileKind.Socket,
            0x2000 => SiteFileKind.CharacterDevice,
            0x6000 => SiteFileKind.BlockDevice,
            _ => SiteFileKind.Other,
        };
        return (kind, mode & 0x1FF);
    }

    private static int OpenFlags()
    {
        // O_RDONLY | O_NONBLOCK | O_CLOEXEC, and O_NOFOLLOW, whose value differs between x64 and the ARM ABIs.
        const int nonBlock = 0x800, closeOnExec = 0x80000;
        var noFollow = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 0x20000 : 0x8000;
        return nonBlock | closeOnExec | noFollow;
    }

    // struct statx: 256 bytes, stx_mode (u16) at offset 28, stx_size (u64) at 40, identical on every Linux architecture.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int StatxSizeOffset = 40;
    private const uint StatxType = 0x1, StatxMode = 0x2, StatxSizeMask = 0x200;
    private const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000;
    private const int ENOENT = 2, ENOTDIR = 20;

    // DllImport, not LibraryImport: the latter needs unsafe code enabled for the whole project. The buffer is passed
    // by reference to its first byte, so it can live on the stack (one statx per file, twice per file deployed).
    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, ref byte buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
}
