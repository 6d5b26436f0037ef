//! The core's sans-IO login machines for a JS socket driver (`js/mail.js` over `node:net` /
//! `node:tls`): the driver feeds what the server sent and does what `poll()` says.

use mailoauth::proto::{Action, Login, LoginConfig, SaslIr};
use mailoauth::{MailAuthError, MailErrorKind, Mechanism};
use wasm_bindgen::prelude::*;

use crate::convert::js::{from_js, mail_error, to_js, type_error};
use crate::convert::{self, bool_field, obj, str_field, uint_field};

/// One IMAP, SMTP or POP3 login.
#[wasm_bindgen]
#[derive(Debug)]
pub struct LoginMachine {
    inner: Login,
}

#[wasm_bindgen]
impl LoginMachine {
    /// `protocol`: `imap`, `smtp` or `pop3`. `config`: `{user, token, mechanism?: 'XOAUTH2' |
    /// 'OAUTHBEARER', starttls?, saslIr?: 'auto' | 'always' | 'never', probe?, host?, port?,
    /// clientName?, maxLine?}`.
    #[wasm_bindgen(constructor)]
    pub fn new(protocol: &str, config: JsValue) -> Result<LoginMachine, JsValue> {
        let protocol = convert::protocol(protocol).map_err(convert::js::failure)?;
        let o = from_js(&config)?;
        let s = |n: &str| str_field(&o, n);
        let (Some(user), Some(token)) = (s("user"), s("token")) else {
            return Err(type_error("user and token are required"));
        };
        let mechanism = match s("mechanism") {
            None => Mechanism::XOAuth2,
            Some(m) => m.parse::<Mechanism>().map_err(|e| type_error(&e.to_string()))?,
        };
        let mut cfg = LoginConfig::new(user, token, mechanism);
        cfg.starttls = bool_field(&o, "starttls").unwrap_or(false);
        cfg.probe = bool_field(&o, "probe").unwrap_or(false);
        if let Some(mode) = s("saslIr") {
            cfg.sasl_ir = SaslIr::from_name(mode)
                .ok_or_else(|| type_error(&format!("saslIr {mode:?}: expected auto, always or never")))?;
        }
        cfg.host = s("host").map(str::to_owned);
        cfg.port = uint_field(&o, "port").and_then(|p| u16::try_from(p).ok());
        if let Some(name) = s("clientName") {
            cfg.client_name = name.to_owned();
        }
        if let Some(max) = uint_field(&o, "maxLine") {
            cfg.max_line = usize::try_from(max).unwrap_or(usize::MAX);
        }
        Ok(LoginMachine { inner: Login::new(protocol, cfg) })
    }

    /// Hands bytes read from the server to the machine.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.inner.feed(bytes);
    }

    /// What to do next: `{action: 'send', bytes}` (may contain the token: never log it),
    /// `{action: 'need_input'}`, `{action: 'start_tls'}` or `{action: 'done'}`. Throws a
    /// `MailAuthError` when the login failed.
    pub fn poll(&mut self) -> Result<JsValue, JsValue> {
        let action = self.inner.poll().map_err(|e| mail_error(&e))?;
        let obj = js_sys::Object::new();
        let (name, bytes) = match action {
            Action::Send(b) => ("send", Some(b)),
            Action::NeedInput => ("need_input", None),
            Action::StartTls => ("start_tls", None),
            Action::Done => ("done", None),
        };
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&obj, &JsValue::from_str(k), v);
        set("action", &JsValue::from_str(name))?;
        if let Some(b) = bytes {
            set("bytes", &js_sys::Uint8Array::from(b.as_slice()).into())?;
        }
        Ok(obj.into())
    }

    /// Tells the machine the TLS handshake asked for by `start_tls` succeeded.
    #[wasm_bindgen(js_name = tlsEstablished)]
    pub fn tls_established(&mut self) {
        self.inner.tls_established();
    }

    /// The current stage (`greeting`, `capabilities`, `starttls`, `tls`, `auth`, `probe`).
    #[wasm_bindgen(getter)]
    pub fn stage(&self) -> String {
        self.inner.stage().to_string()
    }

    /// The protocol (`imap`, `smtp`, `pop3`).
    #[wasm_bindgen(getter)]
    pub fn protocol(&self) -> String {
        self.inner.protocol().name().to_owned()
    }

    /// After `done`, once: `{greeting, capabilities, finalLine, preauthenticated, upgradedToTls,
    /// leftover: Uint8Array}` (`leftover`: what the server sent after the final login line).
    pub fn outcome(&mut self) -> JsValue {
        let Some(o) = self.inner.take_outcome() else { return JsValue::NULL };
        let v = to_js(&obj(vec![
            ("greeting", convert::s(&o.greeting)),
            ("capabilities", convert::strs(&o.capabilities)),
            ("finalLine", convert::s(&o.final_line)),
            ("preauthenticated", mailoauth::json::Value::Bool(o.preauthenticated)),
            ("upgradedToTls", mailoauth::json::Value::Bool(o.upgraded_to_tls)),
        ]));
        let _ = js_sys::Reflect::set(&v, &"leftover".into(), &js_sys::Uint8Array::from(o.leftover.as_slice()).into());
        v
    }

    /// A `MailAuthError` of `kind` (`network`, `timeout`, `tls`, ...) at the machine's current
    /// stage, for failures the driver sees (connect, I/O, time-out, TLS handshake).
    pub fn error(&self, kind: &str, message: &str) -> Result<JsValue, JsValue> {
        let kind = MailErrorKind::from_name(kind).ok_or_else(|| type_error("unknown error kind"))?;
        Ok(mail_error(&MailAuthError::new(self.inner.protocol(), self.inner.stage(), kind, message)))
    }
}

/// The core's SASL exchange for JS libraries that write the SMTP/IMAP/POP3 commands themselves
/// (the nodemailer helper): the command, the answer to each continuation, the classification
/// of the final line. Node build.
#[wasm_bindgen(js_name = SaslExchange)]
#[derive(Debug)]
pub struct JsSaslExchange {
    inner: mailoauth::proto::SaslExchange,
}

#[wasm_bindgen(js_class = SaslExchange)]
impl JsSaslExchange {
    /// `protocol`: `imap`, `smtp`, `pop3`; `mechanism`: `XOAUTH2` or `OAUTHBEARER`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        protocol: &str,
        mechanism: &str,
        user: &str,
        token: &str,
        host: Option<String>,
        port: Option<u16>,
    ) -> Result<JsSaslExchange, JsValue> {
        let protocol = convert::protocol(protocol).map_err(convert::js::failure)?;
        let mechanism = mechanism.parse::<Mechanism>().map_err(|e| type_error(&e.to_string()))?;
        Ok(JsSaslExchange {
            inner: mailoauth::proto::SaslExchange::new(protocol, mechanism, user, token, host.as_deref(), port),
        })
    }

    /// Whether the initial response goes inline (`serverAllows`: IMAP's SASL-IR; SMTP and POP3
    /// always), by the protocol's line limit.
    pub fn inline(&self, server_allows: bool) -> bool {
        self.inner.inline(SaslIr::Auto, server_allows)
    }

    /// The command line that starts the exchange (`command`: `AUTH`, `<tag> AUTHENTICATE`).
    /// It may contain the token: never log it.
    pub fn start(&mut self, command: &str, inline: bool) -> String {
        self.inner.start(command, inline).into_secret()
    }

    /// One server line: `{step: 'send', line}` (may contain the token), `{step: 'done'}` or
    /// `{step: 'continue'}`; throws the `MailAuthError` of a refusal.
    #[wasm_bindgen(js_name = feedLine)]
    pub fn feed_line(&mut self, line: &str) -> Result<JsValue, JsValue> {
        let step = self.inner.feed_line(line).map_err(|e| mail_error(&e))?;
        let (name, line) = match step {
            mailoauth::proto::SaslStep::Send(l) => ("send", Some(l.into_secret())),
            mailoauth::proto::SaslStep::Done => ("done", None),
            mailoauth::proto::SaslStep::Continue => ("continue", None),
        };
        let mut fields = vec![("step", convert::s(name))];
        if let Some(l) = &line {
            fields.push(("line", convert::s(l)));
        }
        Ok(to_js(&obj(fields)))
    }
}
