#!/usr/bin/env python3
"""A PostgreSQL wire proxy for fault injection (test/t/018_citus_2pc.pl).

    pgproxy.py LISTEN_SOCKET TARGET_SOCKET RULES_FILE LOG_FILE

Listens on the unix socket LISTEN_SOCKET (a path ending in .s.PGSQL.<port>)
and forwards every connection to TARGET_SOCKET, byte for byte, the way
Citus's own failure tests put mitmproxy in front of a worker.  It reads
the frontend's messages as they pass: a simple query ('Q') whose text
starts with one of the patterns in RULES_FILE gets that rule's fault:

    {"match": "COMMIT PREPARED", "action": "delay", "seconds": 3, "count": 1}
    {"match": "PREPARE TRANSACTION", "action": "cut", "count": 1}
    {"match": "COMMIT PREPARED", "action": "hold"}

  delay  forward the message after the given seconds (a slow link);
  cut    close both sides of the connection instead of forwarding it (a
         lost link: the node never gets the command);
  hold   forward it only once the rules file no longer holds the rule.

RULES_FILE holds a JSON list of rules and is read again whenever it
changes; "count" (default unlimited) is how many messages a rule applies
to.  Every fault applied is appended to LOG_FILE as a line
"<action> <first 60 characters of the query>", so a test knows it fired.
Citus sends PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED as
simple queries (libpq's PQsendQuery), which is what this matches.
"""
import json
import os
import socket
import struct
import sys
import threading
import time

LISTEN, TARGET, RULES, LOG = sys.argv[1:5]

state_lock = threading.Lock()
rules = []
rules_mtime = None
used = {}


def load_rules():
    """The rules, re-read if the file changed (which also resets counts)."""
    global rules, rules_mtime, used
    try:
        mtime = os.stat(RULES).st_mtime_ns
    except FileNotFoundError:
        mtime = None
    if mtime != rules_mtime:
        try:
            with open(RULES) as f:
                rules = json.load(f) if mtime is not None else []
        except (OSError, ValueError):
            return rules
        rules_mtime = mtime
        used = {}
    return rules


def fault_for(query):
    text = query.lstrip().upper()
    with state_lock:
        for i, rule in enumerate(load_rules()):
            if not text.startswith(rule["match"].upper()):
                continue
            count = rule.get("count")
            if count is not None and used.get(i, 0) >= count:
                continue
            used[i] = used.get(i, 0) + 1
            return i, rule
    return None, None


def still_held(index, rule):
    with state_lock:
        current = load_rules()
        return index < len(current) and current[index] == rule


def log(action, query):
    with state_lock:
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (action, " ".join(query.split())[:60]))


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass


def backend_to_frontend(server, client):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    close_both(server, client)


def frontend_to_backend(client, server):
    try:
        # the startup packet (or an SSL/GSS request, answered "no" by the
        # server through us like any other bytes): length-prefixed, no type
        while True:
            head = recv_exact(client, 4)
            if head is None:
                raise OSError
            (length,) = struct.unpack("!i", head)
            body = recv_exact(client, length - 4)
            if body is None:
                raise OSError
            server.sendall(head + body)
            code = struct.unpack("!i", body[:4])[0] if len(body) >= 4 else 0
            if code not in (80877103, 80877104):    # SSLRequest, GSSENCRequest
                break
        while True:
            kind = recv_exact(client, 1)
            if kind is None:
                break
            head = recv_exact(client, 4)
            if head is None:
                break
            (length,) = struct.unpack("!i", head)
            body = recv_exact(client, length - 4)
            if body is None:
                break
            if kind == b"Q":
                query = body.rstrip(b"\0").decode("utf-8", "replace")
                index, rule = fault_for(query)
                if rule is not None:
                    action = rule["action"]
                    log(action, query)
                    if action == "cut":
                        break
                    if action == "delay":
                        time.sleep(float(rule.get("seconds", 1)))
                    elif action == "hold":
                        while still_held(index, rule):
                            time.sleep(0.05)
            server.sendall(kind + head + body)
    except OSError:
        pass
    close_both(client, server)


def main():
    if os.path.exists(LISTEN):
        os.unlink(LISTEN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(LISTEN)
    os.chmod(LISTEN, 0o777)
    listener.listen(128)
    while True:
        client, _ = listener.accept()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(TARGET)
        except OSError:
            client.close()
            continue
        threading.Thread(target=frontend_to_backend, args=(client, server), daemon=True).start()
        threading.Thread(target=backend_to_frontend, args=(server, client), daemon=True).start()


if __name__ == "__main__":
    main()
