#!/bin/sh
# ci-services.sh makes the servers the integration tests use answer on
# loopback: PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database
# test) and MariaDB on 127.0.0.1:3306 (root, empty password, database test).
# It installs a missing server with apt-get, starts one that is installed but
# stopped, and does nothing to a server that already answers. Idempotent and
# quiet: it prints only when something fails. Needs root.
set -eu

log() { echo "ci-services: $*" >&2; }

# wait_for CMD...: run CMD until it succeeds, for up to 60 seconds.
wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -ge 120 ]; then
			log "gave up waiting for: $*"
			return 1
		fi
		sleep 0.5
	done
}

missing=""
command -v pg_ctlcluster >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/sbin/mariadbd ] || missing="$missing mariadb-server"
if [ -n "$missing" ]; then
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# PostgreSQL
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
if ! pg_up; then
	version=$(ls /etc/postgresql | sort -V | tail -n 1)
	hba=/etc/postgresql/$version/main/pg_hba.conf
	# A fresh Debian cluster asks loopback clients for a password; the tests
	# connect as postgres without one.
	if ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
		sed -i '1i host all all 127.0.0.1/32 trust\nlocal all all trust' "$hba"
	fi
	pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
	wait_for pg_up
fi
if ! runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1; then
	runuser -u postgres -- createdb test
fi

# MariaDB
my_up() { mariadb -uroot -h127.0.0.1 -e 'select 1'; }
if ! my_up >/dev/null 2>&1; then
	if ! mariadb -uroot -e 'select 1' >/dev/null 2>&1; then
		mkdir -p /run/mysqld
		chown mysql:mysql /run/mysqld 2>/dev/null || true
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
		wait_for mariadb -uroot -e 'select 1'
	fi
	# A fresh install lets root in only through the socket: allow loopback TCP
	# with an empty password, as the tests expect.
	mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;"
	wait_for my_up
fi
mariadb -uroot -e 'CREATE DATABASE IF NOT EXISTS test'
