// A thin driver that runs the core's IMAP/SMTP/POP3 login state machine over node:net and
// node:tls. The protocol logic (greeting, capabilities, STARTTLS rules, SASL exchange, error
// challenges) is all in the machine; this file only moves bytes, upgrades to TLS when told,
// and enforces time-outs.
import net from 'node:net';
import tls from 'node:tls';
import { LoginMachine, loginDeadlineMs, mailServer } from '../dist/mailoauth_wasm_node.js';

export { mailServer };

/**
 * Logs in to a mail server with an OAuth 2.0 access token.
 *
 * @param {object} o
 * @param {'imap'|'smtp'|'pop3'} o.protocol
 * @param {string} [o.host] default the provider's server (Exchange Online, per `cloud`; Gmail)
 * @param {number} [o.port] default from the TLS mode: 993 (IMAP), 995 (POP3), 587 (SMTP)
 * @param {'tls'|'starttls'|'plain'} [o.security] default what the port implies, else implicit
 *   TLS for IMAP/POP3 and STARTTLS for SMTP (the core's rules)
 * @param {'microsoft'|'google'} [o.provider] whose servers are the default
 * @param {string} [o.cloud] `global`, `usgov`, `usgov-dod`, `china`
 * @param {string} o.user the SASL user (the mailbox address)
 * @param {string} o.accessToken
 * @param {'XOAUTH2'|'OAUTHBEARER'} [o.mechanism] default XOAUTH2
 * @param {string|Buffer|Array} [o.ca] extra trusted CA certificates (PEM)
 * @param {number} [o.timeoutMs] per connect, read, write and handshake (default 30 s)
 * @param {number} [o.deadlineMs] the whole login (default the core's: 3 × `timeoutMs`), so a
 *   server that answers each read in time but never finishes cannot keep it alive
 * @returns {Promise<{socket, protocol, greeting, capabilities, finalLine, upgradedToTls, leftover: Buffer}>}
 *   the authenticated socket, paused, for whatever continues the session; `end()` it when done.
 */
export async function login(o) {
  // Which server, on which port, with which TLS mode: the core decides (unknown names throw an
  // IdentityError of kind 'configuration').
  const { protocol, host, port, security } = mailServer(String(o.protocol ?? ''), {
    provider: o.provider,
    cloud: o.cloud,
    host: o.host,
    port: o.port,
    security: o.security,
  });
  const machine = new LoginMachine(protocol, {
    user: o.user,
    token: o.accessToken,
    mechanism: o.mechanism,
    starttls: security === 'starttls',
    saslIr: o.saslIr,
    probe: o.probe,
    host,
    port,
    clientName: o.clientName,
    maxLine: o.maxLine,
  });
  const timeoutMs = o.timeoutMs ?? 30_000;
  // `host` is what the certificate is checked against, also after STARTTLS (where the socket
  // is already open and Node would otherwise check 'localhost'); SNI only for names.
  const tlsOptions = { host, servername: net.isIP(host) ? undefined : host, ca: o.ca, ...o.tlsOptions };
  const deadlineMs = o.deadlineMs ?? loginDeadlineMs(timeoutMs, timeoutMs);
  const conn = new Connection(machine, timeoutMs, deadlineMs);
  try {
    await conn.connect({ host, port, tls: security === 'tls' ? tlsOptions : null });
    for (;;) {
      const step = machine.poll();
      // Checked between steps too: a server whose every read is ready at once (a flood).
      if (step.action !== 'done') conn.checkDeadline();
      switch (step.action) {
        case 'send':
          await conn.write(step.bytes);
          break;
        case 'need_input':
          machine.feed(await conn.read());
          break;
        case 'start_tls':
          await conn.upgrade(tlsOptions);
          machine.tlsEstablished();
          break;
        case 'done': {
          const outcome = machine.outcome();
          const socket = conn.release();
          return {
            socket,
            protocol,
            greeting: outcome.greeting,
            capabilities: outcome.capabilities,
            finalLine: outcome.finalLine,
            preauthenticated: outcome.preauthenticated,
            upgradedToTls: outcome.upgradedToTls,
            leftover: Buffer.from(outcome.leftover),
          };
        }
        default:
          throw new Error(`unknown action ${step.action}`);
      }
    }
  } catch (e) {
    conn.destroy();
    throw e;
  } finally {
    machine.free();
  }
}

/** One socket with a read queue, time-outs and errors labelled by the machine's stage. */
class Connection {
  #machine;
  #timeoutMs;
  #deadlineMs;
  #end;
  #socket = null;
  #chunks = [];
  #waiter = null;
  #ended = false;
  #error = null;
  #onData = (chunk) => this.#push(chunk);
  #onEnd = () => {
    this.#ended = true;
    this.#wake();
  };
  #onError = (e) => {
    this.#error = e;
    this.#wake();
  };

  constructor(machine, timeoutMs, deadlineMs) {
    this.#machine = machine;
    this.#timeoutMs = timeoutMs;
    this.#deadlineMs = deadlineMs;
    this.#end = Date.now() + deadlineMs;
  }

  #fail(kind, message) {
    return this.#machine.error(kind, message);
  }

  #overall() {
    return this.#fail('timeout', `the login did not finish within its overall deadline of ${this.#deadlineMs} ms`);
  }

  /** Throws the deadline's time-out once it has passed. */
  checkDeadline() {
    if (Date.now() >= this.#end) throw this.#overall();
  }

  /** Each step waits at most its own time-out and at most what is left of the deadline. */
  #timer(what, reject) {
    const left = Math.max(0, this.#end - Date.now());
    if (left < this.#timeoutMs) return setTimeout(() => reject(this.#overall()), left);
    return setTimeout(() => reject(this.#fail('timeout', `no ${what} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
  }

  #attach(socket) {
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    this.#socket = socket;
  }

  #detach() {
    const s = this.#socket;
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('close', this.#onEnd);
    s.off('error', this.#onError);
  }

  #push(chunk) {
    this.#chunks.push(chunk);
    this.#wake();
  }

  #wake() {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  connect({ host, port, tls: tlsOptions }) {
    return new Promise((resolve, reject) => {
      const timer = this.#timer(tlsOptions ? 'TLS connection' : 'connection', reject);
      const socket = tlsOptions
        ? tls.connect({ host, port, ...tlsOptions })
        : net.connect({ host, port });
      let tcpUp = false;
      socket.once('connect', () => {
        tcpUp = true;
      });
      const done = (err) => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (err) reject(err);
        else {
          this.#attach(socket);
          resolve();
        }
      };
      const onError = (e) => {
        const kind = tlsOptions && tcpUp ? 'tls' : 'network';
        done(this.#fail(kind, `${host}:${port}: ${e.message}`));
      };
      socket.once('error', onError);
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => done());
      this.#socket = socket;
    });
  }

  async read() {
    for (;;) {
      if (this.#chunks.length) return this.#chunks.shift();
      if (this.#error) throw this.#fail('network', this.#error.message);
      if (this.#ended) throw this.#fail('network', 'the server closed the connection');
      await new Promise((resolve, reject) => {
        const timer = this.#timer('answer from the server', (e) => {
          this.#waiter = null;
          reject(e);
        });
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  write(bytes) {
    return new Promise((resolve, reject) => {
      const timer = this.#timer('write', reject);
      this.#socket.write(bytes, (err) => {
        clearTimeout(timer);
        if (err) reject(this.#fail('network', err.message));
        else resolve();
      });
    });
  }

  upgrade(tlsOptions) {
    this.#detach();
    const plain = this.#socket;
    if (this.#chunks.length) {
      // Bytes that arrived with or after the STARTTLS go-ahead, before the handshake: a man in
      // the middle injecting plaintext commands (CVE-2011-0411 style). Nothing secret was sent.
      return Promise.reject(
        this.#fail('protocol', 'the server sent data after its STARTTLS go-ahead; no credentials were sent'),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = this.#timer('TLS handshake', reject);
      const secure = tls.connect({ socket: plain, ...tlsOptions });
      const onError = (e) => {
        clearTimeout(timer);
        reject(this.#fail('tls', e.message));
      };
      secure.once('error', onError);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', onError);
        this.#attach(secure);
        resolve();
      });
      this.#socket = secure;
    });
  }

  /** Hands the socket over: our listeners removed, paused, any unread bytes pushed back. */
  release() {
    this.#detach();
    const s = this.#socket;
    s.pause();
    if (this.#chunks.length) s.unshift(Buffer.concat(this.#chunks));
    this.#chunks = [];
    this.#socket = null;
    return s;
  }

  destroy() {
    this.#socket?.destroy();
  }
}
