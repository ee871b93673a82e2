#!/usr/bin/python3
"""A recording SMTP server for relaysync's tests (Debian's python3-aiosmtpd).

Every accepted message is appended to --log as one JSON object per line:
{"port", "mail_from", "rcpt_to", "auth_login", "tls", "subject"}.
With --user/--password the server requires AUTH (PLAIN or LOGIN) and
refuses any other login; --starttls offers STARTTLS, --implicit-tls speaks
TLS from the first byte (port 465 style). The server prints "ready" once it
listens and stops on SIGTERM.
"""
import argparse
import json
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, log, port):
        self.log = log
        self.port = port
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        subject = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("subject:"):
                subject = line.split(":", 1)[1].strip()
                break
            if not line:
                break
        login = session.auth_data.login.decode() if isinstance(
            session.auth_data, LoginPassword) else None
        rec = {"port": self.port, "mail_from": envelope.mail_from,
               "rcpt_to": envelope.rcpt_tos, "auth_login": login,
               "tls": session.ssl is not None or
               server.transport.get_extra_info("ssl_object") is not None,
               "subject": subject}
        with self.lock, open(self.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 OK recorded"


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--implicit-tls", action="store_true")
    a = ap.parse_args()

    ctx = None
    if a.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    params = {"hostname": "127.0.0.1", "port": a.port,
              "server_hostname": "localhost"}
    smtp = {}
    if a.user:
        smtp.update(authenticator=Authenticator(a.user, a.password),
                    auth_required=True,
                    # aiosmtpd counts only STARTTLS as TLS for AUTH; an
                    # implicit-TLS session is encrypted from the start.
                    auth_require_tls=bool(ctx) and not a.implicit_tls)
    if a.starttls:
        smtp.update(tls_context=ctx, require_starttls=True)
    if a.implicit_tls:
        params["ssl_context"] = ctx
    ctl = Controller(Recorder(a.log, a.port), **params, **smtp)
    ctl.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
