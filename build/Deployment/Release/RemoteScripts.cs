namespace Build.Deployment.Release;

/// <summary>
/// The POSIX <c>sh</c> scripts of the release protocol, run as <c>sh -c SCRIPT sh ARG...</c>.
/// Only <c>sh</c>, <c>tar</c>, <c>mkdir</c>, <c>mv</c>, <c>ln</c>, <c>rm</c>, <c>cat</c>, <c>ls</c>, <c>find</c>, <c>date</c> are required
/// (GNU or BusyBox; <c>mv -T</c>, <c>tar -m -o -p</c>, <c>find -newer -exec {} +</c> and <c>date -r FILE +%s</c> exist in both; without
/// <c>date</c> a lock's heartbeat age is unknown and it is never taken over). <c>sha256sum</c>, <c>tee</c> and <c>mkfifo</c>
/// are used for the stream hash when present, <c>zstd</c> (else <c>gzip</c>) for compression and <c>awk</c> to count the staged files when present.
/// Arguments are the validated remote root, the lock owner (run id/target), release ids and numbers, and the run's own free text (lock
/// owner, log line), single-quoted and only ever expanded as "$n"; file names travel in tar entries, so nothing
/// from the site is ever parsed as shell. Free text is an argument rather than stdin because a command with stdin
/// costs a round trip more (the client may write only once the command has started); the commands started ahead
/// (<see cref="PendingCommand"/>) are the exception: their stdin carries what was not known when they started.
/// The current release is read from <c>ls -ld current</c> (readlink is not in the assumed tool set).
/// Replies are lines starting with <c>@</c>; exit codes 64.. name refusals (see <see cref="ExitCodes"/>).
/// </summary>
internal static class RemoteScripts
{
    public static class ExitCodes
    {
        public const int CurrentNotSymlink = 64;
        public const int NotWritable = 65;
        public const int Locked = 66;
        public const int VerifyFailed = 67;
        public const int MissingRelease = 68;
        public const int LockLost = 69;
        public const int CurrentChanged = 70;
        public const int LockAlive = 71;
        public const int EditedOnServer = 72;
    }

    private const string Common = """
        set -u
        LC_ALL=C; export LC_ALL
        say() { printf '%s\n' "$*"; }
        fail() { code=$1; shift; say "@fail $*"; exit "$code"; }
        # Read stdin to its end before exiting: a channel the server closes before the client's EOF arrives makes
        # that EOF a message for a closed channel, and sshd drops the whole connection for it.
        drain() { cat > /dev/null 2>&1 || :; }
        # The lock's owner as "run/target" ($run in every script that needs the lock is this session's pair).
        owner_id() {
          r= t=
          if [ -f .deploy/lock/owner ]; then
            while IFS= read -r l || [ -n "$l" ]; do
              case $l in run=*) r=${l#run=};; target=*) t=${l#target=};; esac
            done < .deploy/lock/owner
          fi
          printf '%s/%s' "$r" "$t"
        }
        owner_field() {
          v=
          if [ -f .deploy/lock/owner ]; then
            while IFS= read -r l || [ -n "$l" ]; do case $l in "$1"=*) v=${l#"$1"=};; esac; done < .deploy/lock/owner
          fi
          printf '%s' "$v"
        }
        # The heartbeat's age in seconds, on this server's clock alone: now minus the owner file's mtime (each
        # heartbeat rewrites the file). Upload data arriving counts as a heartbeat too (the stream's fifo is written
        # as it arrives), and so does a stream's end (lock/alive.*): on a slow link the heartbeat's own packets queue
        # behind the upload's. Empty when unknown (no owner file, no date).
        lock_age() {
          a=
          [ -f .deploy/lock/owner ] || return 0
          n=$(date +%s 2>/dev/null) && m=$(date -r .deploy/lock/owner +%s 2>/dev/null) || return 0
          case "$n$m" in ''|*[!0-9]*) return 0 ;; esac
          for f in .deploy/tmp.*/fifo .deploy/lock/alive.*; do
            [ -p "$f" ] || [ -f "$f" ] || continue
            t=$(date -r "$f" +%s 2>/dev/null) || continue
            case $t in ''|*[!0-9]*) continue ;; esac
            [ "$t" -gt "$m" ] && [ "$t" -le "$n" ] && m=$t
          done
          a=$((n - m))
        }
        # Stale: a heartbeat older than the timeout, or as far in the future (the server's clock was set back).
        stale() { [ -n "$a" ] && { [ "$a" -gt "$1" ] || [ "$a" -lt "-$1" ]; }; }
        # The owner and its age from one version of the file: a takeover or a beat replaces it (mv: a new inode)
        # while it is read, and a mix would name the old owner with the new one's age. Read again (bounded) if so.
        # Fails when no owner could be read: no lock, or one that went away (its holder unlocked) meanwhile.
        print_owner() {
          reads=0
          while :; do
            inode=$(ls -i .deploy/lock/owner 2>/dev/null)
            otext=; [ -f .deploy/lock/owner ] && otext=$(cat .deploy/lock/owner 2>/dev/null)
            lock_age
            { [ "$inode" = "$(ls -i .deploy/lock/owner 2>/dev/null)" ] || [ "$reads" -ge 3 ]; } && break
            reads=$((reads+1))
          done
          if [ -z "$otext" ]; then [ -d .deploy/lock ] && say "@locked"; return 1; fi
          say "@locked"
          printf '%s\n' "$otext" | while IFS= read -r l || [ -n "$l" ]; do say "@owner $l"; done
          [ -n "$a" ] && say "@lock-age $a"
          :
        }
        cur_id() {
          cid= target=
          if [ -L current ]; then
            target=$(ls -ld current) || return 0
            target=${target#* -> }
            case $target in
              releases/*) cid=${target#releases/} ;;
              "$root"/releases/*) cid=${target#"$root"/releases/} ;;
            esac
            cid=${cid%/}
            case $cid in ''|*[!0-9A-Za-z-]*) cid= ;; esac
          fi
        }
        own_lock() { [ -d .deploy/lock ] && [ "$(owner_id)" = "$run" ]; }
        # GNU find (-printf) and awk: the upload's one walk both counts the staged tree and finds edited linked files,
        # so Prepare leaves the edits to it (@edits-at-seal) exactly where this holds.
        gnu_walk() { command -v awk >/dev/null 2>&1 && find . -maxdepth 0 -printf '' >/dev/null 2>&1; }
        # The lock is renamed away before it is removed, so nobody ever finds it without its owner file.
        unlock() {
          if [ -e .deploy/lock ]; then rm -rf ".deploy/unlocked.$$" && mv -T .deploy/lock ".deploy/unlocked.$$" || return 1; fi
          rm -rf ".deploy/unlocked.$$"
        }
        switch_to() {
          [ -d "releases/$1" ] || fail 68 "release $1 does not exist"
          if [ -e current ] && [ ! -L current ]; then fail 64 "current is not a symlink"; fi
          rm -f .current.tmp
          ln -s "releases/$1" .current.tmp || fail 65 "cannot create $root/.current.tmp"
          mv -f -T .current.tmp current || { rm -f .current.tmp; fail 65 "cannot rename .current.tmp to current"; }
        }
        remove_release() {
          rm -rf "releases/$1" ".deploy/manifests/$1.json" ".deploy/manifests/$1.compact" ".deploy/manifests/$1.meta" ".deploy/manifests/$1.sealed" ".deploy/bad/$1"
        }
        # Args: id hold(hold|unlock) line(the log line, may be empty) prune-ids... Switches current to the staged
        # release, prunes, logs, and unlocks unless hold: the Switch script, or an upload told to switch once staged.
        switch_release() {
          id=$1 hold=$2 line=$3; shift 3
          own_lock || fail 69 "lock lost"
          switch_to "$id"
          say "@switched $id"
          rm -f ".deploy/bad/$id"
          prune_log "$id" "$line" "$@"
          if [ "$hold" = hold ]; then say "@held"; else unlock; say "@unlocked"; fi
        }
        # Args: keep line(the log line, may be empty) prune-ids... Removes the releases given but keep, then logs.
        prune_log() {
          keep=$1 line=$2; shift 2
          for p in "$@"; do
            [ "$p" = "$keep" ] && continue
            remove_release "$p"
            say "@pruned $p"
          done
          [ -n "$line" ] && printf '%s\n' "$line" >> .deploy/log
        }
        """;

    /// <summary>
    /// Args: root run(the lock owner, run/target) mode(lock|look) timeout(seconds: a heartbeat older than this is
    /// abandoned) manifest(yes|no) owner(the owner file; empty to look) instance(the owner's nonce) expect(the
    /// releases, space separated, one of which current must still be; - for none, * for any) edits(walk: list the files
    /// edited since current was sealed; seal: leave that to the upload's count walk where GNU find can do it, @edits-at-seal).
    /// </summary>
    public const string Prepare = Common + """

        root=$1 run=$2 mode=$3 timeout=$4 want=$5 owner=$6 nonce=$7 expect=$8 edits=${9:-walk}
        if [ "$mode" = lock ] && [ ! -d "$root" ]; then
          mkdir -p "$root" 2>/dev/null || fail 65 "cannot create $root"
        fi
        if [ ! -d "$root" ]; then say "@absent"; say "@end"; exit 0; fi
        cd "$root" || fail 65 "cannot enter $root"
        check_current() {
          cur_id
          if [ -e current ] || [ -L current ]; then
            [ -L current ] || return 1
            [ -n "$cid" ] || [ "$mode" != lock ] || return 2
          fi
        }
        refuse() {
          [ "$1" = 1 ] && fail 64 "current is not a symlink"
          fail 64 "current points to $target, not to a release"
        }
        # Refused before anything is created; read again under the lock below.
        check_current || refuse $?
        if [ "$mode" = lock ]; then
          [ -w . ] || fail 65 "$root is not writable"
          mkdir -p releases .deploy/manifests .deploy/bad 2>/dev/null || fail 65 "cannot create $root/releases and $root/.deploy"
          # A cut connection must not stop this half way (a lock taken over but not yet rewritten).
          trap '' HUP PIPE
          # A new lock is made whole under another name, then renamed into place (a directory rename fails when the
          # lock exists): nobody ever finds it without its owner file, as unlock() renames it away first.
          fresh=".deploy/lock.new.$nonce"
          rm -rf "$fresh"
          tries=0 waits=0
          while :; do
            took=
            [ -d "$fresh" ] || { mkdir "$fresh" && : > "$fresh/held.$nonce" && printf '%s\n' "$owner" > "$fresh/owner"; } 2>/dev/null ||
              { rm -rf "$fresh"; fail 65 "cannot write the lock owner"; }
            if [ ! -e .deploy/lock ] && mv -T "$fresh" .deploy/lock 2>/dev/null && [ -f ".deploy/lock/held.$nonce" ]; then took=taken
            elif own_lock; then took=retaken
            else
              # The nonce before the age: a nonce read after another waiter's takeover comes with that fresh age.
              held=$(owner_field lock)
              case $held in ''|*[!0-9a-f]*) held= ;; esac
              lock_age
              # Takeover: only a heartbeat older than the timeout on this server's clock, and only by the one waiter
              # whose rename of this holding's marker succeeds (a later holding has another nonce, so no waiter can
              # take over a lock it did not judge stale).
              if [ -n "$held" ] && stale "$timeout" && mv ".deploy/lock/held.$held" ".deploy/lock/taken.$held" 2>/dev/null; then
                took=took-over
                say "@broke-age $a"
                while IFS= read -r l || [ -n "$l" ]; do say "@broke $l"; done < .deploy/lock/owner
              elif [ -n "$held" ] && [ -e ".deploy/lock/taken.$held" ] && [ "$waits" -lt 20 ]; then
                # Another waiter is taking this abandoned lock over: its owner file comes next. Look again (bounded),
                # so that a waiter that lost names the new owner, not the abandoned one.
                waits=$((waits+1))
                continue
              fi
            fi
            [ -n "$took" ] && break
            # A lock that went away while it was looked at (its holder unlocked) is free now: try again, a few times.
            lines=$(print_owner) || [ "$tries" -ge 3 ] || { tries=$((tries+1)); continue; }
            rm -rf "$fresh"
            [ -n "$lines" ] && printf '%s\n' "$lines"
            fail 66 "locked"
          done
          rm -rf "$fresh"
          # A lock renamed into place has its marker and owner already; a re-taken or taken-over one gets them now.
          [ "$took" = taken ] ||
            { : > ".deploy/lock/held.$nonce" && printf '%s\n' "$owner" > .deploy/lock/owner.tmp && mv -f .deploy/lock/owner.tmp .deploy/lock/owner; } ||
            fail 65 "cannot write the lock owner"
          for f in .deploy/lock/held.* .deploy/lock/taken.* .deploy/lock/alive.*; do [ "$f" = ".deploy/lock/held.$nonce" ] || rm -f "$f"; done
          say "@lock $took"
          # Staging left by a crashed or cut run (ours, or the abandoned owner's we took over): the lock is ours
          # alone, so nothing writes there now.
          n=0
          for d in releases/.*.partial releases/.*.deploy; do
            [ -e "$d" ] || continue
            rm -rf "$d" || fail 65 "cannot remove $root/$d"
            n=$((n+1))
          done
          say "@cleaned $n"
          # Work directories of upload parts killed before their exit trap ran (older clients, SIGKILL).
          # (Not lock.new.*: those are other waiters' locks in the making, each removed by its own maker.)
          for d in .deploy/tmp.* .deploy/unlocked.*; do [ -e "$d" ] && rm -rf "$d"; done
          # Another deploy may have switched while this one waited for the lock: the state is what holds now.
          check_current || { st=$?; [ "$took" = retaken ] || unlock; refuse "$st"; }
          # A reconnect re-takes the lock only while current is where this deploy found it.
          case " $expect " in
            *" * "*|*" ${cid:--} "*) ;;
            *) [ "$took" = retaken ] || unlock
               fail 70 "current changed under this deploy: it points to ${cid:-no release}, not $expect" ;;
          esac
          trap - HUP PIPE
        else
          print_owner
        fi
        if [ -L current ]; then
          say "@current-link $target"
          say "@current $cid"
        fi
        for d in releases/* releases/.[!.]* releases/..?*; do
          [ -e "$d" ] || [ -L "$d" ] || continue
          n=${d#releases/}
          say "@release $n"
          case $n in *[!0-9A-Za-z-]*) continue ;; esac
          [ -f ".deploy/manifests/$n.meta" ] && say "@meta $(cat ".deploy/manifests/$n.meta")"
        done
        for b in .deploy/bad/*; do [ -e "$b" ] && say "@bad ${b#.deploy/bad/}"; done
        # The log's tail says which release was current before the current one (the rollback target).
        if [ -f .deploy/log ]; then
          if command -v tail >/dev/null 2>&1; then tail -n 20 .deploy/log; else cat .deploy/log; fi |
            while IFS= read -r l; do say "@log $l"; done
        fi
        # The compact manifest when the release has one (a quarter of the json's bytes), else the json (sealed by an
        # older deploy); both are the client's own bytes, printed as they were stored.
        shown=
        if [ "$want" = yes ] && [ -n "$cid" ]; then
          if [ -f ".deploy/manifests/$cid.compact" ]; then
            shown=yes; say "@manifest-compact $(cat ".deploy/manifests/$cid.compact")"
          elif [ -f ".deploy/manifests/$cid.json" ]; then
            shown=yes; say "@manifest $(cat ".deploy/manifests/$cid.json")"
          fi
        fi
        if [ -n "$shown" ]; then
          # Files are hard-linked from the current release only as far as it is proven unchanged since its seal:
          # a file whose mtime is newer than the seal marker was edited in place and is sent again. A release
          # without a marker (sealed by an older deploy) is never linked from. ls prints one line per name
          # (GNU with -q, BusyBox always), so a newline in a name cannot forge a line.
          if [ -f ".deploy/manifests/$cid.sealed" ] && [ -d "releases/$cid" ] && command -v find >/dev/null 2>&1; then
            say "@sealed"
            if [ "$edits" = seal ] && gnu_walk; then
              # The upload's count walk (GNU find) finds the linked files newer than this seal: one walk of a release less.
              say "@edits-at-seal"
            else
              q=; ls -dq . >/dev/null 2>&1 && q=q
              (cd "releases/$cid" && find . -type f -newer "../../.deploy/manifests/$cid.sealed" -exec ls -d$q {} + 2>/dev/null) |
                while IFS= read -r l; do say "@edited $l"; done
            fi
          fi
        fi
        command -v sha256sum >/dev/null 2>&1 && command -v tee >/dev/null 2>&1 && command -v mkfifo >/dev/null 2>&1 && say "@cap hash"
        command -v gzip >/dev/null 2>&1 && say "@cap gzip"
        command -v zstd >/dev/null 2>&1 && say "@cap zstd"
        say "@end"
        """;

    /// <summary>
    /// Args: root run. Stdin: the line "id files bytes compress(Z|z|-) part parts upload marker(-|path) edits(-|base-id) then(-|hold|unlock) prune-ids..."
    /// (or "skip"), with then other than -, the log line, then one part's tar stream (Z: zstd frames, decompressed by <c>zstd -dcq</c> into tar; z: gzip members, tar -z; -: plain). Started ahead (<see cref="PendingCommand"/>), it waits for that line. Parts run at once, each on
    /// its own channel: each extracts into releases/.&lt;id&gt;.partial (links resolve into the current release),
    /// checks tar's status, prints its stream's SHA-256 for the client to compare and leaves a marker in
    /// releases/.&lt;id&gt;.deploy/&lt;upload&gt;/ (upload: this attempt's nonce, so an earlier attempt's markers never count).
    /// The part that finds every marker there seals (mkdir decides which, if two finish at once): checks the file count
    /// and bytes of the whole tree (and with edits, that no file linked from that release is newer than its seal: exit 72,
    /// edited on the server, when one is), writes the release marker file (the release id, at the validated --release-marker
    /// path), moves the manifest (json and compact) into .deploy/manifests and renames to releases/&lt;id&gt;.
    /// Stale staging was removed by Prepare. Current is touched only when then says so: the sealing part then switches
    /// as <see cref="Switch"/> does (a deploy whose switch follows at once saves its round trip).
    /// </summary>
    public const string Upload = Common + """

        root=$1 run=$2
        read -r id count bytes z part parts upload marker edits then prune || exit 0
        [ "$id" != skip ] || { drain; exit 0; }
        # Told to switch once staged (then: hold|unlock): the log line comes next, before the stream.
        line=; [ "${then:--}" = - ] || IFS= read -r line || :
        cd "$root" || fail 65 "cannot enter $root"
        own_lock || fail 69 "lock lost"
        cur_id
        [ "$cid" != "$id" ] || fail 65 "release $id is already current"
        tmp=.deploy/tmp.$$
        rm -rf "$tmp"; mkdir "$tmp" || fail 65 "cannot create $root/$tmp"
        trap 'rm -rf "$tmp"' EXIT
        # A client interrupted (SIGINT/SIGTERM) or cut closes the channel: sshd's SIGHUP, or SIGPIPE on the next
        # write, would kill sh without its EXIT trap and leave tmp behind; exiting from the signal runs it.
        trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
        # Modes come from the archive (-p, normalized by the client); -m: files get the extraction time, so every file
        # of a release is older than its seal marker, whatever the clocks of the client and the server say.
        # zstd's status would be lost in the pipe (no pipefail in POSIX sh): it is kept in a file. A tar stream cut at
        # an entry's end can look whole to tar, so a failed zstd fails the part even when tar did not; when both
        # failed, zstd's failure (a corrupt stream) is the cause and named as such.
        untar() {
          case $z in
            Z) { zstd -dcq 2> "$tmp/zerr"; echo "$?" > "$tmp/zst"; } | tar -x -m -o -p -f - -C releases 2> "$tmp/err" ;;
            z) tar -x -z -m -o -p -f - -C releases 2> "$tmp/err" ;;
            *) tar -x -m -o -p -f - -C releases 2> "$tmp/err" ;;
          esac
        }
        sum=-
        if command -v sha256sum >/dev/null 2>&1 && command -v tee >/dev/null 2>&1 && mkfifo "$tmp/fifo" 2>/dev/null; then
          sha256sum < "$tmp/fifo" > "$tmp/sum" &
          hp=$!
          tee "$tmp/fifo" | untar
          st=$?
          wait "$hp"
          read -r sum rest < "$tmp/sum" || sum=-
        else
          untar
          st=$?
        fi
        zs=0
        if [ "$z" = Z ]; then zs=; [ -f "$tmp/zst" ] && read -r zs rest < "$tmp/zst"; fi
        # zstd killed by SIGPIPE (141) only means tar stopped reading: tar's own status says whether the archive was whole.
        [ "$st" = 0 ] && [ "$zs" = 141 ] && zs=0
        if [ "$st" != 0 ] || [ "$zs" != 0 ]; then
          [ -s "$tmp/zerr" ] && while IFS= read -r l; do say "@tar $l"; done < "$tmp/zerr"
          while IFS= read -r l; do say "@tar $l"; done < "$tmp/err"
          { [ "$zs" = 0 ] || [ "$zs" = 141 ]; } && fail 67 "tar exited with status $st"
          fail 67 "zstd exited with status ${zs:-unknown}"
        fi
        drain
        # The stream's end counts as a heartbeat: its fifo goes with tmp, and on a slow link the beat queued behind
        # the upload has not arrived yet; a waiter must not judge the lock abandoned in between.
        # (A new file in the lock, not touch, which a server need not have; lock_age reads it like the fifo.)
        own_lock && : > ".deploy/lock/alive.$$" 2>/dev/null
        say "@stream $sum"
        marks=releases/.$id.deploy/$upload
        mkdir -p "$marks" && : > "$marks/part$part" || fail 65 "cannot write $root/$marks/part$part"
        set -- "$marks"/part*
        [ "$#" = "$parts" ] && mkdir "$marks/seal" 2>/dev/null || { say "@part $part"; exit 0; }
        [ -d "releases/.$id.partial" ] || fail 67 "the stream held no release"
        # Count and bytes in one walk of the tree, never reading a name (so no name can add a line): GNU find prints each
        # file's size alone (half the time of ls -lR). Else from ls's listing where it prints one line per name (GNU with
        # -q, BusyBox always); elsewhere find hands the names to sh as arguments, which prints how many it got, and the
        # bytes come from ls's size column.
        # Edits: files linked from that release (a link count above 1) newer than its seal were edited in place since.
        # Only GNU find looks for them here (the client asks only after @edits-at-seal); elsewhere e stays unknown.
        e=unknown; [ "${edits:--}" = - ] && e=0
        if gnu_walk; then
          if [ "${edits:--}" = - ]; then
            set -- $(find "releases/.$id.partial" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { printf "%d %.0f 0", n, b }')
          else
            set -- $(find "releases/.$id.partial" -type f -printf '%s\n' -links +1 -newer ".deploy/manifests/$edits.sealed" -printf 'E\n' |
              awk '/^E/ { e++; next } { n++; b += $1 } END { printf "%d %.0f %d", n, b, e }')
          fi
          n=${1:-0} b=${2:-0} e=${3:-0}
        else
          q=; ls -dq . >/dev/null 2>&1 && q=q
          if [ -n "$q" ] && command -v awk >/dev/null 2>&1; then
            set -- $(ls -lnRA$q "releases/.$id.partial" | awk '/^-/ { n++; b += $5 } END { printf "%d %.0f", n, b }')
            n=${1:-0} b=${2:-0}
          else
            n=0
            for c in $(find "releases/.$id.partial" -type f -exec sh -c 'echo "$#"' sh {} +); do n=$((n+c)); done
            if command -v awk >/dev/null 2>&1; then
              b=$(ls -lnRA$q "releases/.$id.partial" | awk '/^-/ { b += $5 } END { printf "%.0f", b }')
            else
              b=$(ls -lnRA$q "releases/.$id.partial" | {
                b=0
                while read -r m l u g s rest; do
                  case $m in -[r-][w-]?[r-][w-]?[r-][w-]?*) b=$((b+s)) ;; esac
                done
                printf '%s' "$b"
              })
            fi
          fi
        fi
        say "@received $n $b"
        [ "$e" = 0 ] || fail 72 "files linked from $edits were edited on the server since it was sealed ($e)"
        [ "$n" = "$count" ] && [ "$b" = "$bytes" ] || fail 67 "staged $n files and $b bytes, the manifest has $count files and $bytes bytes"
        [ -f "releases/.$id.deploy/manifest.json" ] && [ -f "releases/.$id.deploy/meta" ] || fail 67 "the stream lacks the manifest"
        # The release marker (--release-marker): written here, after the count, so the site's manifest never holds it.
        # rm first: a file of that name linked from the current release must not change under the live site.
        if [ -n "${marker:-}" ] && [ "$marker" != - ]; then
          m=releases/.$id.partial/$marker
          (umask 022 && mkdir -p "${m%/*}" && rm -f "$m" && printf '%s\n' "$id" > "$m") || fail 65 "cannot write the release marker $marker"
          say "@marker $marker"
        fi
        if [ -e "releases/$id" ]; then remove_release "$id"; say "@restaged"; fi
        # The seal marker: touched once every file is in place; later deploys link only files not newer than it.
        # The compact manifest goes with the json; a stale one of this id never stays behind without its own.
        mv -f "releases/.$id.deploy/manifest.json" ".deploy/manifests/$id.json" &&
          mv -f "releases/.$id.deploy/meta" ".deploy/manifests/$id.meta" &&
          { if [ -f "releases/.$id.deploy/manifest.compact" ]; then mv -f "releases/.$id.deploy/manifest.compact" ".deploy/manifests/$id.compact"
            else rm -f ".deploy/manifests/$id.compact"; fi; } &&
          : > ".deploy/manifests/$id.sealed" &&
          rm -rf "releases/.$id.deploy" &&
          mv "releases/.$id.partial" "releases/$id" || fail 65 "cannot move the staged release into place"
        say "@staged $id"
        [ "${then:--}" = - ] || switch_release "$id" "$then" "$line" $prune
        """;

    /// <summary>
    /// Args: root run. Stdin: the line "id hold(hold|unlock) prune-ids..." (or "skip"), then the log line. Started ahead
    /// (<see cref="PendingCommand"/>), it waits for that line: switch, prune, log, unlock in one round trip; with
    /// <c>hold</c> the lock stays until the health check is over (<see cref="Finish"/> or <see cref="SwitchBack"/> ends it).
    /// </summary>
    public const string Switch = Common + """

        root=$1 run=$2
        read -r id hold prune || exit 0
        [ "$id" != skip ] || { drain; exit 0; }
        IFS= read -r line || :
        drain
        cd "$root" || fail 65 "cannot enter $root"
        switch_release "$id" "$hold" "$line" $prune
        """;

    /// <summary>Args: root run line(the log line, may be empty) prune-ids... Prune, log, unlock without switching.</summary>
    public const string Finish = Common + """

        root=$1 run=$2 line=$3; shift 3
        cd "$root" || fail 65 "cannot enter $root"
        own_lock || fail 69 "lock lost"
        cur_id
        prune_log "$cid" "$line" "$@"
        unlock
        say "@unlocked"
        """;

    /// <summary>Args: root run id(-) line(the log line, may be empty). Removes this run's staging and unswitched release; unlocks if ours.</summary>
    public const string Abort = Common + """

        root=$1 run=$2 id=$3 line=$4
        cd "$root" 2>/dev/null || { say "@absent"; exit 0; }
        own_lock || { say "@not-owner"; exit 0; }
        for d in .deploy/tmp.*; do [ -e "$d" ] && rm -rf "$d"; done
        if [ "$id" != - ]; then
          rm -rf "releases/.$id.partial" "releases/.$id.deploy"
          cur_id
          if [ "$cid" != "$id" ] && [ -e "releases/$id" ]; then remove_release "$id"; say "@removed $id"; fi
        fi
        [ -n "$line" ] && printf '%s\n' "$line" >> .deploy/log
        unlock
        say "@unlocked"
        """;

    /// <summary>Args: root run from(-) to line(the log line) [hold(yes|no)]. Switch back, mark the left release bad, log, unlock (not with hold).</summary>
    public const string Rollback = Common + """

        root=$1 run=$2 from=$3 to=$4 line=$5 hold=${6:-no}
        cd "$root" || fail 65 "cannot enter $root"
        own_lock || fail 69 "lock lost"
        switch_to "$to"
        say "@switched $to"
        rm -f ".deploy/bad/$to"
        if [ "$from" != - ]; then : > ".deploy/bad/$from" && say "@marked $from"; fi
        [ -n "$line" ] && printf '%s\n' "$line" >> .deploy/log
        if [ "$hold" = yes ]; then say "@held"; else unlock; say "@unlocked"; fi
        """;

    /// <summary>
    /// Args: root run from to(-: no release) line [bad(yes|no) hold(yes|no)]. Undoes this run's switch (another server's
    /// switch failed under <c>--switch=together</c>, or a health check failed): only while current is still <c>from</c>,
    /// back to <c>to</c> (or no current at all when there was none before); <c>from</c> stays as a release, marked bad
    /// with <c>bad=yes</c> (an unhealthy release). Log, unlock (not with hold: the previous release is checked first).
    /// </summary>
    public const string SwitchBack = Common + """

        root=$1 run=$2 from=$3 to=$4 line=$5 bad=${6:-no} hold=${7:-no}
        cd "$root" || fail 65 "cannot enter $root"
        own_lock || fail 69 "lock lost"
        cur_id
        if [ "$cid" = "$from" ]; then
          if [ "$to" = - ]; then rm -f current || fail 65 "cannot remove $root/current"; else switch_to "$to"; fi
          say "@switched $to"
          [ -n "$line" ] && printf '%s\n' "$line" >> .deploy/log
        else
          say "@current $cid"
        fi
        if [ "$bad" = yes ]; then : > ".deploy/bad/$from" && say "@marked $from"; fi
        if [ "$hold" = yes ]; then say "@held"; else unlock; say "@unlocked"; fi
        """;

    /// <summary>
    /// Args: root run owner(the owner file, with this beat's time). The heartbeat: rewrites the owner file while the
    /// lock is this session's, which renews its modification time, the age the server judges staleness by.
    /// </summary>
    public const string Heartbeat = Common + """

        root=$1 run=$2 owner=$3
        cd "$root" || fail 65 "cannot enter $root"
        own_lock || fail 69 "lock lost"
        tmp=.deploy/lock/owner.beat.$$
        { printf '%s\n' "$owner" > "$tmp" && mv -f "$tmp" .deploy/lock/owner; } || { rm -f "$tmp"; fail 65 "cannot renew the lock owner"; }
        say "@beat"
        """;

    /// <summary>
    /// Args: root timeout(seconds) force(yes|no). Prints the owner and the heartbeat's age, then removes the lock,
    /// unless its heartbeat is younger than the timeout (a deploy that is alive) and force is not given.
    /// </summary>
    public const string Unlock = Common + """

        root=$1 timeout=$2 force=$3
        cd "$root" 2>/dev/null || { say "@absent"; exit 0; }
        print_owner
        if [ -d .deploy/lock ]; then
          lock_age
          if [ "$force" != yes ] && [ -n "$a" ] && ! stale "$timeout"; then fail 71 "alive"; fi
          unlock || fail 65 "cannot remove $root/.deploy/lock"
          say "@unlocked"
        fi
        """;
}
