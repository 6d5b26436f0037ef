"""mailoauth proxy side by side with email-oauth2-proxy (PyPI `emailproxy`) and a direct XOAUTH2
connection to the same Dovecot, in one run. Driven by scripts/bench/proxy.sh; stdlib only, except
`seed` (run with the venv's Python: it needs `cryptography`, as emailproxy does).

  seed CONFIG USER TOKEN TOKEN_URL CLIENT_ID IMAP_LOCAL IMAP_PORT SMTP_LOCAL SMTP_PORT
      writes emailproxy's configuration: the servers, and the account with the access token
      cached the way emailproxy caches it (Fernet, key = PBKDF2-SHA256 of the password, 1.2 M
      iterations, its own salt), so it logs in with the cached token and never asks a browser.
  bench JSON  runs the measurements; JSON names the ports, user, password, token, CA and pids.
"""
import base64, imaplib, json, os, smtplib, socket, ssl, statistics, sys, threading, time


def seed(config, user, token, token_url, client_id, imap_local, imap_port, smtp_local, smtp_port):
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
    password = os.environ["BENCH_LOCAL_PASSWORD"]
    salt, iterations = os.urandom(16), 1_200_000
    key = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations).derive(password.encode())
    fernet = Fernet(base64.urlsafe_b64encode(key))
    with open(config, "w") as f:
        f.write(f"""[IMAP-{imap_local}]
server_address = localhost
server_port = {imap_port}
local_address = 127.0.0.1

[SMTP-{smtp_local}]
server_address = localhost
server_port = {smtp_port}
server_starttls = True
local_address = 127.0.0.1

[{user}]
permission_url = {token_url.rsplit('/', 1)[0]}/authorize
token_url = {token_url}
oauth2_scope = https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access
redirect_uri = http://localhost
client_id = {client_id}
token_salt = {base64.b64encode(salt).decode()}
token_iterations = {iterations}
access_token = {fernet.encrypt(token.encode()).decode()}
access_token_expiry = {int(time.time()) + 3000}

[emailproxy]
delete_account_token_on_password_error = False
""")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Target:
    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        self.direct = name == "direct"

    def imap(self):
        c = self.cfg
        if self.direct:
            ctx = ssl.create_default_context(cafile=c["ca"])
            m = imaplib.IMAP4_SSL("localhost", c["imaps"], ssl_context=ctx, timeout=300)
            m.authenticate("XOAUTH2", lambda _: f"user={c['user']}\x01auth=Bearer {c['token']}\x01\x01".encode())
        else:
            m = imaplib.IMAP4("127.0.0.1", c[self.name]["imap"], timeout=300)
            m.login(c["user"], c["password"])
        return m

    def smtp(self):
        c = self.cfg
        if self.direct:
            s = smtplib.SMTP("localhost", c["submission"], timeout=300)
            s.starttls(context=ssl.create_default_context(cafile=c["ca"]))
            s.ehlo()
            ir = base64.b64encode(f"user={c['user']}\x01auth=Bearer {c['token']}\x01\x01".encode()).decode()
            # the response on its own line: Dovecot refuses a 2 KB AUTH line (see cli/README.md)
            code, msg = s.docmd("AUTH", "XOAUTH2")
            assert code == 334, (code, msg)
            code, msg = s.docmd(ir)
            assert code == 235, (code, msg)
        else:
            s = smtplib.SMTP("127.0.0.1", c[self.name]["smtp"], timeout=300)
            s.login(c["user"], c["password"])
        return s


def bench(cfg_path):
    cfg = json.load(open(cfg_path))
    targets = [Target(n, cfg) for n in ("direct", "mailoauth", "emailproxy")]
    runs, sessions, fetch_mb, send_mb = cfg["login_runs"], cfg["sessions"], cfg["fetch_mb"], cfg["send_mb"]
    results = {t.name: {} for t in targets}

    def say(*a):
        print(*a, file=sys.stderr, flush=True)

    # 1. Connect to authenticated (the token cached everywhere), median of `runs`, interleaved.
    times = {t.name: [] for t in targets}
    for t in targets:  # one warm-up each (mailoauth's first local login runs the slow hash once)
        t.imap().logout()
    for _ in range(runs):
        for t in targets:
            t0 = time.perf_counter()
            m = t.imap()
            times[t.name].append(time.perf_counter() - t0)
            m.logout()
    for t in targets:
        results[t.name]["login_ms"] = statistics.median(times[t.name]) * 1000
    say("login:", {n: f"{v['login_ms']:.1f} ms" for n, v in results.items()})

    # 2. A message of `fetch_mb` MB, put in INBOX directly once, fetched through each (best of 3).
    line = base64.b64encode(os.urandom(57)) + b"\r\n"
    body = line * (fetch_mb * 1024 * 1024 // len(line))
    big = b"From: bob@example.org\r\nSubject: bench fetch\r\n\r\n" + body
    m = targets[0].imap()
    m.append("INBOX", None, None, big)
    m.select("INBOX")
    n = m.search(None, "SUBJECT", '"bench fetch"')[1][0].split()[-1]
    m.logout()
    for _ in range(3):
        for t in targets:
            m = t.imap()
            m.select("INBOX")
            t0 = time.perf_counter()
            typ, data = m.fetch(n, "(BODY.PEEK[])")
            dt = time.perf_counter() - t0
            assert typ == "OK" and data[0][1] == big, (t.name, typ, len(data[0][1]))
            m.logout()
            results[t.name]["fetch_mbs"] = max(results[t.name].get("fetch_mbs", 0), len(big) / dt / 1e6)
    say("fetch:", {n: f"{v['fetch_mbs']:.0f} MB/s" for n, v in results.items()})

    # 3. A `send_mb` MB message sent (best of 3).
    body = line * (send_mb * 1024 * 1024 // len(line))
    for i in range(3):
        for t in targets:
            msg = f"From: {cfg['user']}\r\nTo: bob@example.org\r\nSubject: bench send {t.name} {i}\r\n\r\n".encode() + body
            s = t.smtp()
            t0 = time.perf_counter()
            s.sendmail(cfg["user"], ["bob@example.org"], msg)
            dt = time.perf_counter() - t0
            s.quit()
            results[t.name]["send_mbs"] = max(results[t.name].get("send_mbs", 0), len(msg) / dt / 1e6)
    say("send:", {n: f"{v['send_mbs']:.0f} MB/s" for n, v in results.items()})

    # 4. `sessions` IMAP sessions logged in and held at once (8 logging in at a time), each then
    #    answering a NOOP; the proxy's resident memory before and with them all open.
    for t in targets[1:]:
        pid = cfg[t.name]["pid"]
        before = rss_kib(pid)
        held, errors, lock = [], [], threading.Lock()
        todo = list(range(sessions))

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    todo.pop()
                try:
                    m = t.imap()
                    m.select("INBOX")
                    with lock:
                        held.append(m)
                except Exception as e:  # counted, not fatal: "sessions held" is the figure
                    with lock:
                        errors.append(repr(e))

        t0 = time.perf_counter()
        ws = [threading.Thread(target=worker) for _ in range(8)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        opened = time.perf_counter() - t0
        time.sleep(0.5)
        after = rss_kib(pid)
        alive = sum(1 for m in held if m.noop()[0] == "OK")
        for m in held:
            try:
                m.logout()
            except Exception:
                pass
        results[t.name].update(
            sessions=alive,
            sessions_s=opened,
            rss_before_mib=before / 1024,
            rss_after_mib=after / 1024,
            kib_per_session=(after - before) / max(alive, 1),
        )
        say(f"{t.name}: {alive}/{sessions} sessions held ({opened:.1f} s to open); RSS {before / 1024:.1f} -> "
            f"{after / 1024:.1f} MiB, {(after - before) / max(alive, 1):.0f} KiB per session"
            + (f"; errors: {errors[:2]}" if errors else ""))

    d, mo, ep = results["direct"], results["mailoauth"], results["emailproxy"]
    print(json.dumps(results, indent=1))
    print()
    print(f"{'':34}{'direct':>12}{'mailoauth':>12}{'emailproxy':>12}{'emailproxy/mailoauth':>22}")
    print(f"{'connect to authenticated (ms)':34}{d['login_ms']:12.1f}{mo['login_ms']:12.1f}{ep['login_ms']:12.1f}"
          f"{ep['login_ms'] / mo['login_ms']:21.1f}x")
    print(f"{f'{fetch_mb} MB FETCH (MB/s)':34}{d['fetch_mbs']:12.0f}{mo['fetch_mbs']:12.0f}{ep['fetch_mbs']:12.0f}"
          f"{mo['fetch_mbs'] / ep['fetch_mbs']:21.1f}x")
    print(f"{f'{send_mb} MB sent (MB/s)':34}{d['send_mbs']:12.0f}{mo['send_mbs']:12.0f}{ep['send_mbs']:12.0f}"
          f"{mo['send_mbs'] / ep['send_mbs']:21.1f}x")
    print(f"{'IMAP sessions held':34}{'':>12}{mo['sessions']:12d}{ep['sessions']:12d}")
    print(f"{'memory per session (KiB)':34}{'':>12}{mo['kib_per_session']:12.0f}{ep['kib_per_session']:12.0f}"
          f"{ep['kib_per_session'] / max(mo['kib_per_session'], 1):21.1f}x")
    print(f"{'resident memory idle (MiB)':34}{'':>12}{mo['rss_before_mib']:12.1f}{ep['rss_before_mib']:12.1f}")
    print()
    print(f"relay vs direct: FETCH mailoauth {mo['fetch_mbs'] / d['fetch_mbs']:.0%}, emailproxy "
          f"{ep['fetch_mbs'] / d['fetch_mbs']:.0%}; send mailoauth {mo['send_mbs'] / d['send_mbs']:.0%}, "
          f"emailproxy {ep['send_mbs'] / d['send_mbs']:.0%}")


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed(*sys.argv[2:])
    else:
        bench(sys.argv[2])
