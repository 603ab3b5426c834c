#!/bin/sh
# Creates the unprivileged account the sshd test fixture logs in as when the tests run as root,
# so permission errors in the deploy tests are real. Idempotent; a no-op when not root.
set -eu

user="${1:-deploytest}"

if [ "$(id -u)" -ne 0 ]; then
    echo "create-test-user: not root; the sshd fixture logs in as $(id -un) instead" >&2
    exit 0
fi

if ! id -u "$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh "$user"
fi

# sshd without PAM refuses a locked account ("!" in /etc/shadow); "*" means no password, not locked.
if getent shadow "$user" | cut -d: -f2 | grep -q '^!'; then
    usermod -p '*' "$user"
fi

# sshd's privilege separation directory (normally made by the service unit, absent in containers).
mkdir -p /run/sshd
chmod 0755 /run/sshd

echo "create-test-user: $user ready ($(id "$user"))"
