#!/usr/bin/env bash
# Start the servers the tests use (PostgreSQL, NATS JetStream) when they are down.
# Idempotent: a running server is left alone. `make test` and `.ci/run` call this.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # name port
    for _ in $(seq 1 50); do up "$2" && return 0; sleep 0.2; done
    echo "services: $1 did not come up on 127.0.0.1:$2" >&2
    return 1
}

if ! up 5432; then
    echo "services: starting PostgreSQL" >&2
    if command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    else
        echo "services: PostgreSQL is down and pg_ctlcluster is not installed; start it and set LANEKEEPER_TEST_PG" >&2
        exit 1
    fi
    wait_for PostgreSQL 5432
fi

if ! up 4222; then
    echo "services: starting nats-server (JetStream)" >&2
    if [ -x /usr/sbin/nats-server ]; then
        mkdir -p /var/lib/nats-server
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    else
        echo "services: nats-server is down and not installed at /usr/sbin/nats-server; start one and set LANEKEEPER_TEST_NATS" >&2
        exit 1
    fi
    wait_for nats-server 4222
fi
