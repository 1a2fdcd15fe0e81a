#!/bin/sh
# Sets up paidup on a Linux host: every step of deploy/README.md's "Layout", in order. Run as root:
#
#   sh deploy/install.sh ./paidup-0.1.0.tgz       # a package made by `npm pack` (or a registry name)
#
# Running it again upgrades the code and keeps the keys, the config and the ledger.
# It installs the systemd units and the crontab but enables none of them: pick one option in
# deploy/README.md once `paidup check` passes.
#
#   PAIDUP_USER  the service user (default: paidup)
#   PAIDUP_ROOT  a directory every path below is put under (default: empty, the real /). The test
#                suite sets it to a scratch directory so that it never touches the host's /etc.
set -eu

package=${1:?usage: sh deploy/install.sh <paidup-x.y.z.tgz>}
user=${PAIDUP_USER:-paidup}
root=${PAIDUP_ROOT:-}
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (it creates a system user and sets owners)" >&2
  exit 2
fi
command -v npm >/dev/null 2>&1 || { echo "install.sh: npm not found; install Node.js 20 or newer first" >&2; exit 2; }

step() { printf '==> %s\n' "$*"; }

# better-sqlite3 builds its native module in an install script; npm 12 runs a dependency's install
# scripts only when allowed by name (npm 11 warns, older npm ignores the setting).
step "code: npm install -g --prefix $root/opt/paidup $package"
npm install -g --prefix "$root/opt/paidup" --allow-scripts=better-sqlite3 --no-audit --no-fund "$package"

# cron and a login shell find `paidup` on PATH; the units name it by this full path.
step "PATH: $root/usr/local/bin/paidup"
install -d -m 0755 "$root/usr/local/bin"
ln -sfn "$root/opt/paidup/bin/paidup" "$root/usr/local/bin/paidup"

step "system user: $user"
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "$root/var/lib/paidup" --no-create-home --shell /usr/sbin/nologin "$user"
fi

# The working directory holds the config, templates, products and state/paidup.db: only the
# service user may read it (the ledger holds buyers' addresses).
step "directories: $root/var/lib/paidup (0700), $root/var/log/paidup (0750), $root/etc/paidup (0750)"
install -d -o "$user" -g "$user" -m 0700 "$root/var/lib/paidup"
install -d -o "$user" -g "$user" -m 0750 "$root/var/log/paidup"
install -d -o root -g "$user" -m 0750 "$root/etc/paidup"

# The keys: owned by root so the service cannot rewrite them, readable by the service user's
# group (cron and `sudo -u paidup paidup check` read them as that user), by nobody else.
env_file="$root/etc/paidup/paidup.env"
step "keys: $env_file (root:$user 0640)"
if [ ! -e "$env_file" ]; then
  install -o root -g "$user" -m 0640 "$here/paidup.env.example" "$env_file"
fi
chown root:"$user" "$env_file"
chmod 0640 "$env_file"
# paidup reads .env from its working directory: with this link, cron lines and commands run by
# hand in /var/lib/paidup get the same keys the units get through EnvironmentFile=.
ln -sfn "$env_file" "$root/var/lib/paidup/.env"

step "units: $root/etc/systemd/system (not enabled)"
install -d -m 0755 "$root/etc/systemd/system"
for unit in paidup.service paidup-reconcile.service paidup-reconcile.timer paidup-status.service paidup-status.timer; do
  install -m 0644 "$here/$unit" "$root/etc/systemd/system/$unit"
done

step "crontab: $root/etc/paidup/crontab (not installed)"
install -o root -g "$user" -m 0640 "$here/crontab.example" "$root/etc/paidup/crontab"

step "log rotation: $root/etc/logrotate.d/paidup"
install -d -m 0755 "$root/etc/logrotate.d"
install -m 0644 "$here/logrotate.conf" "$root/etc/logrotate.d/paidup"

cat <<EOF
==> done. Next:
  1. put your keys in $env_file
  2. put paidup.config.json, templates/ and products/ in $root/var/lib/paidup (owned by $user)
  3. cd $root/var/lib/paidup && runuser -u $user -- paidup init && runuser -u $user -- paidup check
  4. start one option from deploy/README.md
EOF
