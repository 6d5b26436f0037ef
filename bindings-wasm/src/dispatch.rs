//! The package's one entry point: `call(op, args, bytes)`. `js/wasm.js` sends the name of an
//! operation and its arguments as JSON text (plus raw bytes: an HTTP response body) and gets
//! back `{ok: value}` or `{err: details}` as JSON text, the details naming the JS error class
//! to throw. One export instead of a generated binding per class and method keeps the browser
//! download small (bindings-wasm/README.md#size).
//!
//! Clients and running token flows live here, in two tables, and JS holds their numbers. Each
//! token method builds one of the core's sans-IO machines ([`mailoauth::identity::flow`],
//! [`mailoauth::cache::SilentFlow`]); `js/host.js` resumes it with `fetch` and `setTimeout`.
//! No async code and no HTTP client are compiled into the wasm: every decision (which request,
//! which retry, how long to wait, what an answer means, what the cache keeps) is the core's,
//! every I/O the host's, and the host passes the clock (`now`, Unix seconds) with each call.

use alloc::rc::Rc;
use alloc::sync::Arc;
use core::time::Duration;

use mailoauth::cache::{CacheChange, SilentFlow, Stored, TokenCache};
use mailoauth::identity::flow::DeviceCodeStart;
use mailoauth::identity::flow::{Event, Flow, Step};
use mailoauth::identity::{HttpError, HttpResponse, Method, PublicApp, RefreshToken, Token};
use mailoauth::json::{self, Value};
use mailoauth::{IdentityError, IdentityErrorKind, SilentOptions};

use crate::abi::Global;
use crate::convert::{
    self, account_json, field, int, obj, s, str_field, string_list, token_json, type_failure, uint_field, Failure,
};
use crate::prelude::*;
use crate::store::JsStore;

type Out = Result<Value, Failure>;

/// A running machine, by what it yields (one conversion each, not one per machine type).
pub(crate) enum Machine {
    Token(Box<dyn Flow<Output = Token>>),
    Device(Box<DeviceCodeStart>),
    Removed(CacheChange<bool>),
    Imported(CacheChange<()>),
    /// A result known at once (a client without a cache has no account to remove).
    Ready(Option<Value>),
}

fn map<T>(step: Step<T>, out: impl FnOnce(T) -> Value) -> Step<Value> {
    match step {
        Step::Send(r) => Step::Send(r),
        Step::Wait(w) => Step::Wait(w),
        Step::Done(r) => Step::Done(r.map(out)),
    }
}

impl Machine {
    fn resume(&mut self, now: i64, event: Event) -> Step<Value> {
        match self {
            Machine::Token(f) => map(f.resume(now, event), |t| token_json(&t)),
            Machine::Device(f) => map(f.resume(now, event), |d| convert::device_flow_json(&d)),
            Machine::Removed(f) => map(f.resume(now, event), Value::Bool),
            Machine::Imported(f) => map(f.resume(now, event), |()| Value::Null),
            Machine::Ready(v) => Step::Done(
                v.take().ok_or_else(|| IdentityError::new(IdentityErrorKind::Configuration, "the flow is over")),
            ),
        }
    }
}

/// A running flow and the time-out of each of its requests.
struct Running {
    flow: Machine,
    timeout_ms: u64,
}

/// A public client (browser page, Node script, desktop app): device code, authorization code
/// with PKCE, refresh, silent acquisition from the cache.
struct Client {
    app: PublicApp,
    cache: Option<Arc<TokenCache>>,
    timeout_ms: u64,
}

/// Objects by number. A number is never reused, so a late `drop` cannot hit a newer object.
/// A page holds a handful, so a vector searched by number does (a `BTreeMap` here cost the
/// browser's wasm 5 KB gzip).
struct Table<T> {
    items: Vec<(u64, T)>,
    next: u64,
}

impl<T> Table<T> {
    const fn new() -> Table<T> {
        Table { items: Vec::new(), next: 0 }
    }

    fn insert(&mut self, v: T) -> u64 {
        let id = self.next;
        self.next += 1;
        self.items.push((id, v));
        id
    }

    /// Puts back an object taken out by `remove`, under its number.
    fn put(&mut self, id: u64, v: T) {
        self.items.push((id, v));
    }

    fn get(&self, id: u64) -> Option<&T> {
        self.items.iter().find(|(k, _)| *k == id).map(|(_, v)| v)
    }

    fn remove(&mut self, id: u64) -> Option<T> {
        let i = self.items.iter().position(|(k, _)| *k == id)?;
        Some(self.items.swap_remove(i).1)
    }
}

// A flow is taken out while it runs: the store it calls may re-enter `call`.
static CLIENTS: Global<Table<Rc<Client>>> = Global::new(Table::new());
static FLOWS: Global<Table<Running>> = Global::new(Table::new());

/// Runs one operation: `op`, `args` (JSON text, with `now` in Unix seconds), `bytes` (the body
/// of an HTTP response for `resume`). Returns `{"ok": value}` or `{"err": details}` as JSON.
pub(crate) fn call(op: &str, args: &str, bytes: &[u8]) -> String {
    let args = json::parse(args.as_bytes()).unwrap_or(Value::Null);
    let result = run(op, &args, bytes);
    json::to_string(&match result {
        Ok(v) => obj(vec![("ok", v)]),
        Err(f) => obj(vec![("err", f.details())]),
    })
}

fn run(op: &str, a: &Value, bytes: &[u8]) -> Out {
    let text = |n: &str| str_field(a, n).unwrap_or_default();
    let scopes = || string_list(field(a, "scopes"));
    Ok(match op {
        "xoauth2" => s(&mailoauth::sasl::xoauth2(text("user"), text("token"))),
        "oauthbearer" => {
            let port = uint_field(a, "port").and_then(|p| u16::try_from(p).ok());
            s(&mailoauth::sasl::oauthbearer(text("user"), text("token"), str_field(a, "host"), port))
        }
        "mailScopes" => {
            let authority = convert::authority(a)?;
            let protocols = string_list(field(a, "protocols"))?
                .iter()
                .map(|p| convert::protocol(p))
                .collect::<Result<Vec<_>, _>>()?;
            let refresh = !matches!(field(a, "refresh"), Some(Value::Bool(false)));
            let list =
                mailoauth::identity::scopes::mail_scopes(authority.provider(), authority.cloud(), &protocols, refresh);
            convert::strs(&list)
        }
        "appOnlyScope" => {
            let authority = convert::authority(a)?;
            s(&mailoauth::identity::scopes::app_only_scope(authority.provider(), authority.cloud()))
        }
        "mailHosts" => convert::mail_hosts_json(&convert::authority(a)?.mail_hosts()),
        "client" => new_client(a)?,
        "dropClient" => {
            let id = number(a, "client")?;
            CLIENTS.with_borrow_mut(|t| t.remove(id));
            Value::Null
        }
        "resume" => resume(a, bytes)?,
        "dropFlow" => {
            let id = number(a, "flow")?;
            FLOWS.with_borrow_mut(|t| t.remove(id));
            Value::Null
        }
        _ => {
            let c = client(a)?;
            let app = &c.app;
            match op {
                "userScopes" => convert::strs(&app.user_scopes(&scopes()?)?),
                "authorizationUrl" => {
                    let options = convert::auth_options_from(field(a, "options").unwrap_or(&Value::Null));
                    convert::auth_request_json(&app.authorization_url(&scopes()?, text("redirectUri"), &options)?)
                }
                "redeemRedirect" => {
                    let request = convert::auth_request_from(field(a, "request").unwrap_or(&Value::Null))?;
                    c.stored(app.redeem_redirect(&request, text("url"))?)
                }
                "startDeviceFlow" => register(Machine::Device(Box::new(app.device_code(&scopes()?)?)), c.timeout_ms),
                "waitDeviceFlow" => {
                    let flow = convert::device_flow_from(field(a, "deviceFlow").unwrap_or(&Value::Null))?;
                    c.stored(app.device_code_wait(&flow)?)
                }
                "refresh" => c.stored(app.refresh(&RefreshToken::new(text("refreshToken").to_owned()), &scopes()?)?),
                #[cfg(feature = "node")]
                "usernamePassword" => c.stored(app.username_password(text("username"), text("password"), &scopes()?)?),
                #[cfg(not(feature = "node"))]
                "usernamePassword" => {
                    return Err(Failure::Identity(IdentityError::new(
                        IdentityErrorKind::Configuration,
                        "acquireTokenByUsernamePassword is only in the Node build of mailoauth (import it from Node, or from 'mailoauth/node')",
                    )))
                }
                "silent" => {
                    let options = SilentOptions::new().force_refresh(matches!(field(a, "forceRefresh"), Some(Value::Bool(true))));
                    let silent =
                        SilentFlow::new(c.cache("silent acquisition")?, app, &scopes()?, str_field(a, "account"), options)?;
                    register(Machine::Token(Box::new(silent)), c.timeout_ms)
                }
                "renewAt" => {
                    let expires_at = convert::int_field(a, "expiresAt").unwrap_or(0);
                    int(c.cache("renewAt")?.renew_at(expires_at, convert::int_field(a, "refreshAt")))
                }
                "accounts" => {
                    let accounts = match &c.cache {
                        Some(cache) => cache
                            .accounts(app.authority(), app.client_id())
                            .map_err(|e| Failure::Identity(e.into()))?,
                        None => Vec::new(),
                    };
                    Value::Array(accounts.iter().map(account_json).collect())
                }
                "removeAccount" => match &c.cache {
                    Some(cache) => register(
                        Machine::Removed(CacheChange::<bool>::remove_account(cache.clone(), app, text("account"))),
                        c.timeout_ms,
                    ),
                    None => register(Machine::Ready(Some(Value::Bool(false))), c.timeout_ms),
                },
                "importRefreshToken" => {
                    let account = convert::account_from_json(field(a, "account").unwrap_or(&Value::Null));
                    let change = CacheChange::<()>::import_refresh_token(
                        c.cache("importRefreshToken")?,
                        app,
                        account,
                        RefreshToken::new(text("refreshToken").to_owned()),
                        now(a),
                    );
                    register(Machine::Imported(change), c.timeout_ms)
                }
                _ => return Err(Failure::Type(mailoauth::cat!("no operation \"", op, "\""))),
            }
        }
    })
}

/// The host's clock, passed with each call.
fn now(a: &Value) -> i64 {
    convert::int_field(a, "now").unwrap_or(0)
}

fn number(a: &Value, name: &str) -> Result<u64, Failure> {
    uint_field(a, name).ok_or_else(|| type_failure("no such client or flow"))
}

fn client(a: &Value) -> Result<Rc<Client>, Failure> {
    let id = number(a, "client")?;
    CLIENTS.with_borrow(|t| t.get(id).cloned()).ok_or_else(|| type_failure("the client was dropped"))
}

/// `{options: {clientId, provider?, authority?, tenant?, cloud?, timeoutMs?, refreshMarginSecs?},
/// store?}` (`store`: the number `js/bridge.js` gave the client's token store) -> `{client,
/// clientId, authority}`.
#[allow(clippy::arc_with_non_send_sync)] // wasm is single-threaded; the core's traits are not Send there
fn new_client(a: &Value) -> Out {
    let o = field(a, "options").unwrap_or(&Value::Null);
    let client_id = str_field(o, "clientId").ok_or_else(|| type_failure("clientId is required"))?;
    let app = PublicApp::new(client_id, convert::authority(o)?);
    let cache = uint_field(a, "store").and_then(|id| u32::try_from(id).ok()).map(|store| {
        let mut cache = TokenCache::new(Arc::new(JsStore::new(store)));
        if let Some(m) = uint_field(o, "refreshMarginSecs") {
            cache = cache.with_refresh_margin(Duration::from_secs(m));
        }
        Arc::new(cache)
    });
    let fields = vec![("clientId", s(app.client_id())), ("authority", s(&app.authority().url()))];
    let id = CLIENTS.with_borrow_mut(|t| t.insert(Rc::new(Client { app, cache, timeout_ms: timeout_ms(o) })));
    let mut fields = fields;
    fields.push(("client", int(i64::try_from(id).unwrap_or(i64::MAX))));
    Ok(obj(fields))
}

/// `timeoutMs` from the options, else the core's time-out of one HTTP request.
pub(crate) fn timeout_ms(options: &Value) -> u64 {
    uint_field(options, "timeoutMs")
        .filter(|t| *t > 0)
        .unwrap_or(mailoauth::identity::DEFAULT_HTTP_TIMEOUT.as_millis() as u64)
}

impl Client {
    /// `grant`, stored in the cache if there is one. Boxed, so that one `Stored` serves every
    /// grant (one copy of its code in the wasm, not one per grant type).
    fn stored(&self, grant: impl Flow<Output = mailoauth::Token> + 'static) -> Value {
        let grant: Box<dyn Flow<Output = mailoauth::Token>> = Box::new(grant);
        match &self.cache {
            Some(cache) => {
                register(Machine::Token(Box::new(Stored::new(grant, cache.clone(), &self.app))), self.timeout_ms)
            }
            None => register(Machine::Token(grant), self.timeout_ms),
        }
    }

    fn cache(&self, what: &str) -> Result<Arc<TokenCache>, Failure> {
        self.cache.clone().ok_or_else(|| {
            Failure::Identity(IdentityError::new(
                IdentityErrorKind::Configuration,
                mailoauth::cat!(what, " needs a token cache"),
            ))
        })
    }
}

/// A new running machine; its number for `resume`.
pub(crate) fn register(flow: Machine, timeout_ms: u64) -> Value {
    int(i64::try_from(FLOWS.with_borrow_mut(|t| t.insert(Running { flow, timeout_ms }))).unwrap_or(i64::MAX))
}

/// `{flow, kind, now, ...}`: `kind` is `start`, `response` (`status`, `headers: [[name,
/// value]]`, the body in `bytes`), `error` (`message`, `timedOut`: no answer at all) or `woke`.
/// Returns `{send: {method, url, headers, body, maxBytes, timeoutMs}}`, `{wait: ms}` or
/// `{done: result}`; a failed flow is the error.
fn resume(a: &Value, bytes: &[u8]) -> Out {
    let id = number(a, "flow")?;
    let event = match str_field(a, "kind").unwrap_or_default() {
        "start" => Event::Start,
        "woke" => Event::Woke,
        "response" => Event::Response(Ok(HttpResponse {
            status: uint_field(a, "status").and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
            headers: match field(a, "headers") {
                Some(Value::Array(pairs)) => pairs
                    .iter()
                    .filter_map(|p| match p {
                        Value::Array(p) => match (p.first(), p.get(1)) {
                            (Some(Value::String(n)), Some(Value::String(v))) => Some((n.clone(), v.clone())),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
            body: bytes.to_vec(),
        })),
        "error" => Event::Response(Err(HttpError {
            message: str_field(a, "message").unwrap_or("fetch failed").to_owned(),
            timed_out: matches!(field(a, "timedOut"), Some(Value::Bool(true))),
        })),
        _ => return Err(type_failure("resume: kind is start, response, error or woke")),
    };
    let mut running = FLOWS.with_borrow_mut(|t| t.remove(id)).ok_or_else(|| type_failure("the flow is over"))?;
    let step = running.flow.resume(now(a), event);
    let timeout_ms = running.timeout_ms;
    let out = match step {
        Step::Send(r) => {
            let method = match r.method {
                Method::Get => "GET",
                Method::Post => "POST",
            };
            let headers = r.headers.iter().map(|(n, v)| Value::Array(vec![s(n), s(v)].into_iter().collect())).collect();
            let body = if r.method == Method::Post { s(&String::from_utf8_lossy(&r.body)) } else { Value::Null };
            obj(vec![(
                "send",
                obj(vec![
                    ("method", s(method)),
                    ("url", s(&r.url)),
                    ("headers", Value::Array(headers)),
                    ("body", body),
                    ("maxBytes", int(mailoauth::identity::MAX_RESPONSE_BYTES as i64)),
                    ("timeoutMs", int(i64::try_from(timeout_ms).unwrap_or(i64::MAX))),
                ]),
            )])
        }
        Step::Wait(w) => obj(vec![("wait", int(i64::try_from(w.as_millis()).unwrap_or(i64::MAX)))]),
        Step::Done(r) => return r.map(|v| obj(vec![("done", v)])).map_err(Failure::Identity),
    };
    FLOWS.with_borrow_mut(|t| t.put(id, running));
    Ok(out)
}
