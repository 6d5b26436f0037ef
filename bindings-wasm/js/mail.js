// A thin driver that runs the core's IMAP/SMTP/POP3 login state machine over node:net and
// node:tls. The protocol logic (greeting, capabilities, STARTTLS rules, SASL exchange, error
// challenges) is all in the machine; this file only moves bytes, upgrades to TLS when told,
// and enforces time-outs.
import net from 'node:net';
import tls from 'node:tls';
import { LoginMachine } from '../dist/mailoauth_wasm_node.js';

const DEFAULTS = { imap: [993, 'tls'], pop3: [995, 'tls'], smtp: [587, 'starttls'] };

/**
 * Logs in to a mail server with an OAuth 2.0 access token.
 *
 * @param {object} o
 * @param {'imap'|'smtp'|'pop3'} o.protocol
 * @param {string} o.host
 * @param {number} [o.port] default 993 (IMAP), 995 (POP3), 587 (SMTP)
 * @param {'tls'|'starttls'|'plain'} [o.security] default implicit TLS for IMAP/POP3, STARTTLS for SMTP
 * @param {string} o.user the SASL user (the mailbox address)
 * @param {string} o.accessToken
 * @param {'XOAUTH2'|'OAUTHBEARER'} [o.mechanism] default XOAUTH2
 * @param {string|Buffer|Array} [o.ca] extra trusted CA certificates (PEM)
 * @param {number} [o.timeoutMs] per connect, read, write and handshake (default 30 s)
 * @returns {Promise<{socket, protocol, greeting, capabilities, finalLine, upgradedToTls, leftover: Buffer}>}
 *   the authenticated socket, paused, for whatever continues the session; `end()` it when done.
 */
export async function login(o) {
  const protocol = String(o.protocol ?? '').toLowerCase();
  const [defaultPort, defaultSecurity] = DEFAULTS[protocol === 'pop' ? 'pop3' : protocol] ?? [];
  const port = o.port ?? defaultPort;
  const security = o.security ?? defaultSecurity;
  if (!['tls', 'starttls', 'plain'].includes(security)) {
    throw new TypeError(`security ${JSON.stringify(security)}: expected tls, starttls or plain`);
  }
  const machine = new LoginMachine(protocol, {
    user: o.user,
    token: o.accessToken,
    mechanism: o.mechanism,
    starttls: security === 'starttls',
    saslIr: o.saslIr,
    probe: o.probe,
    host: o.host,
    port,
    clientName: o.clientName,
    maxLine: o.maxLine,
  });
  const timeoutMs = o.timeoutMs ?? 30_000;
  const tlsOptions = { servername: net.isIP(o.host) ? undefined : o.host, ca: o.ca, ...o.tlsOptions };
  const conn = new Connection(machine, timeoutMs);
  try {
    await conn.connect({ host: o.host, port, tls: security === 'tls' ? tlsOptions : null });
    for (;;) {
      const step = machine.poll();
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

  constructor(machine, timeoutMs) {
    this.#machine = machine;
    this.#timeoutMs = timeoutMs;
  }

  #fail(kind, message) {
    return this.#machine.error(kind, message);
  }

  #timer(what, reject) {
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
