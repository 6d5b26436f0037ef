//! `PublicClient` and `ConfidentialClient`: each method builds one of the core's sans-IO
//! machines ([`mailoauth::identity::flow`], [`mailoauth::cache::SilentFlow`]) and hands it to
//! JS as a [`WasmFlow`]; `js/host.js` drives it with `fetch` and `setTimeout`. No async code
//! and no HTTP client are compiled into the wasm: every decision (which request, which retry,
//! how long to wait, what an answer means, what the cache keeps) is the core's, every I/O the
//! host's.

use std::sync::Arc;
use std::time::Duration;

use mailoauth::cache::{CacheChange, SilentFlow, Stored, TokenCache};
use mailoauth::identity::flow::{Event, Flow, Step};
use mailoauth::identity::{HttpError, HttpResponse, Method, PublicApp, RefreshToken};
use mailoauth::json::Value;
use mailoauth::{IdentityError, IdentityErrorKind, SilentOptions};
use wasm_bindgen::prelude::*;

use crate::convert::{self, from_js, identity_error, string_list, token_js, type_error};
use crate::host::now_secs;
use crate::store::JsStore;

/// A machine whose result is converted to JS.
trait JsFlow {
    fn resume_js(&mut self, now: i64, event: Event) -> Step<JsValue>;
}

struct Mapped<F: Flow> {
    flow: F,
    out: fn(F::Output) -> JsValue,
}

impl<F: Flow> JsFlow for Mapped<F> {
    fn resume_js(&mut self, now: i64, event: Event) -> Step<JsValue> {
        match self.flow.resume(now, event) {
            Step::Send(r) => Step::Send(r),
            Step::Wait(w) => Step::Wait(w),
            Step::Done(r) => Step::Done(r.map(self.out)),
        }
    }
}

/// A result known at once (a client without a cache has no account to remove).
struct Ready(Option<Result<JsValue, IdentityError>>);

impl JsFlow for Ready {
    fn resume_js(&mut self, _now: i64, _event: Event) -> Step<JsValue> {
        Step::Done(
            self.0
                .take()
                .unwrap_or_else(|| Err(IdentityError::new(IdentityErrorKind::Configuration, "the flow is over"))),
        )
    }
}

/// A running grant. `js/host.js` resumes it with `("start")`, then with what each step asked
/// for, until it yields its result or throws its typed error.
#[wasm_bindgen]
pub struct WasmFlow {
    inner: Box<dyn JsFlow>,
    /// The time-out of each request (the client's `timeoutMs`, else the core's default).
    timeout_ms: f64,
}

impl std::fmt::Debug for WasmFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WasmFlow")
    }
}

fn flow<F: Flow + 'static>(flow: F, out: fn(F::Output) -> JsValue, timeout_ms: f64) -> WasmFlow {
    WasmFlow { inner: Box::new(Mapped { flow, out }), timeout_ms }
}

/// `timeoutMs` from the options, else the core's time-out of one HTTP request.
fn timeout_ms(options: &Value) -> f64 {
    convert::uint_field(options, "timeoutMs")
        .filter(|t| *t > 0)
        .unwrap_or(mailoauth::identity::DEFAULT_HTTP_TIMEOUT.as_millis() as u64) as f64
}

fn set(o: &js_sys::Object, k: &str, v: &JsValue) {
    let _ = js_sys::Reflect::set(o, &JsValue::from_str(k), v);
}

fn get(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

/// `{status, headers: [[name, value]], body: Uint8Array}` from `httpSend`.
fn response(v: &JsValue) -> HttpResponse {
    let status = get(v, "status").as_f64().unwrap_or(0.0) as u16;
    let headers = js_sys::Array::from(&get(v, "headers"))
        .iter()
        .filter_map(|pair| {
            let pair = js_sys::Array::from(&pair);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect();
    let body = get(v, "body");
    let body =
        if body.is_instance_of::<js_sys::Uint8Array>() { js_sys::Uint8Array::from(body).to_vec() } else { Vec::new() };
    HttpResponse { status, headers, body }
}

#[wasm_bindgen]
impl WasmFlow {
    /// `kind`: `start`, `response` (`value`: `{status, headers, body}`), `error` (`value`:
    /// `{message, timedOut}`, no answer at all) or `woke`. Returns `{send: {method, url, headers,
    /// body, maxBytes, timeoutMs}}`, `{wait: ms}` or `{done: result}`; throws the flow's typed error.
    pub fn resume(&mut self, kind: &str, value: JsValue) -> Result<JsValue, JsValue> {
        let event = match kind {
            "start" => Event::Start,
            "woke" => Event::Woke,
            "response" => Event::Response(Ok(response(&value))),
            "error" => Event::Response(Err(HttpError {
                message: get(&value, "message").as_string().unwrap_or_else(|| "fetch failed".to_owned()),
                timed_out: get(&value, "timedOut").as_bool() == Some(true),
            })),
            _ => return Err(type_error("resume(kind): start, response, error or woke")),
        };
        let out = js_sys::Object::new();
        match self.inner.resume_js(now_secs(), event) {
            Step::Send(r) => {
                let send = js_sys::Object::new();
                let method = match r.method {
                    Method::Get => "GET",
                    Method::Post => "POST",
                };
                set(&send, "method", &JsValue::from_str(method));
                set(&send, "url", &JsValue::from_str(&r.url));
                let headers = js_sys::Array::new();
                for (n, v) in &r.headers {
                    headers.push(&js_sys::Array::of2(&JsValue::from_str(n), &JsValue::from_str(v)));
                }
                set(&send, "headers", &headers);
                if r.method == Method::Post {
                    set(&send, "body", &js_sys::Uint8Array::from(r.body.as_slice()));
                }
                set(&send, "maxBytes", &JsValue::from_f64(mailoauth::identity::MAX_RESPONSE_BYTES as f64));
                set(&send, "timeoutMs", &JsValue::from_f64(self.timeout_ms));
                set(&out, "send", &send);
            }
            Step::Wait(w) => set(&out, "wait", &JsValue::from_f64(w.as_millis() as f64)),
            Step::Done(Ok(v)) => set(&out, "done", &v),
            Step::Done(Err(e)) => return Err(identity_error(e)),
        }
        Ok(out.into())
    }
}

fn client_id(options: &Value) -> Result<String, JsValue> {
    convert::str_field(options, "clientId").map(str::to_owned).ok_or_else(|| type_error("clientId is required"))
}

fn token_out(t: mailoauth::Token) -> JsValue {
    token_js(&t)
}

/// A public client (browser page, Node script, desktop app): device code, authorization code
/// with PKCE, refresh, silent acquisition from the cache.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmPublicClient {
    app: PublicApp,
    cache: Option<Arc<TokenCache>>,
    timeout_ms: f64,
}

impl WasmPublicClient {
    /// `grant`, stored in the cache if there is one.
    fn stored<F: Flow<Output = mailoauth::Token> + 'static>(&self, grant: F) -> WasmFlow {
        match &self.cache {
            Some(cache) => flow(Stored::new(grant, cache.clone(), &self.app), token_out, self.timeout_ms),
            None => flow(grant, token_out, self.timeout_ms),
        }
    }

    fn cache(&self, what: &str) -> Result<Arc<TokenCache>, JsValue> {
        self.cache.clone().ok_or_else(|| {
            identity_error(IdentityError::new(IdentityErrorKind::Configuration, format!("{what} needs a token cache")))
        })
    }
}

#[wasm_bindgen]
impl WasmPublicClient {
    /// `options`: `{clientId, provider?, authority?, tenant?, cloud?, timeoutMs?, refreshMarginSecs?}`;
    /// `store`: a token store object (`load`/`save`), or nothing for no cache.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::arc_with_non_send_sync)] // wasm is single-threaded; the core's traits are not Send there
    pub fn new(options: JsValue, store: JsValue) -> Result<WasmPublicClient, JsValue> {
        let o = from_js(&options)?;
        let app = PublicApp::new(client_id(&o)?, convert::authority(&options)?);
        let cache = if store.is_undefined() || store.is_null() {
            None
        } else {
            let mut cache = TokenCache::new(Arc::new(JsStore::new(store)));
            if let Some(m) = convert::uint_field(&o, "refreshMarginSecs") {
                cache = cache.with_refresh_margin(Duration::from_secs(m));
            }
            Some(Arc::new(cache))
        };
        Ok(WasmPublicClient { app, cache, timeout_ms: timeout_ms(&o) })
    }

    /// The client id.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.app.client_id().to_owned()
    }

    /// The authority URL.
    #[wasm_bindgen(getter)]
    pub fn authority(&self) -> String {
        self.app.authority().url()
    }

    /// The scopes a user sign-in asks for (normalized, plus the OpenID scopes).
    #[wasm_bindgen(js_name = userScopes)]
    pub fn user_scopes(&self, scopes: JsValue) -> Result<Vec<String>, JsValue> {
        self.app.user_scopes(&string_list(&scopes)?).map_err(identity_error)
    }

    /// Starts an authorization-code flow: `{url, state, redirectUri, scopes, codeVerifier}`.
    #[wasm_bindgen(js_name = authorizationUrl)]
    pub fn authorization_url(&self, scopes: JsValue, redirect_uri: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let options = convert::auth_options_from_js(&options)?;
        let request =
            self.app.authorization_url(&string_list(&scopes)?, redirect_uri, &options).map_err(identity_error)?;
        Ok(convert::auth_request_js(&request))
    }

    /// Redeems the URL the browser came back to (state checked, error redirects typed).
    #[wasm_bindgen(js_name = redeemRedirect)]
    pub fn redeem_redirect(&self, request: JsValue, redirect_url: String) -> Result<WasmFlow, JsValue> {
        let request = convert::auth_request_from_js(&request)?;
        Ok(self.stored(self.app.redeem_redirect(&request, &redirect_url).map_err(identity_error)?))
    }

    /// Starts a device-code flow; yields `{userCode, verificationUri, message, ...}`.
    #[wasm_bindgen(js_name = startDeviceFlow)]
    pub fn start_device_flow(&self, scopes: JsValue) -> Result<WasmFlow, JsValue> {
        let start = self.app.device_code(&string_list(&scopes)?).map_err(identity_error)?;
        Ok(flow(start, |f| convert::device_flow_js(&f), self.timeout_ms))
    }

    /// Polls until the user signs in, declines or the code expires.
    #[wasm_bindgen(js_name = waitDeviceFlow)]
    pub fn wait_device_flow(&self, flow: JsValue) -> Result<WasmFlow, JsValue> {
        let flow = convert::device_flow_from_js(&flow)?;
        Ok(self.stored(self.app.device_code_wait(&flow).map_err(identity_error)?))
    }

    /// Redeems a refresh token (the rotated one is kept, in the cache too).
    pub fn refresh(&self, refresh_token: String, scopes: JsValue) -> Result<WasmFlow, JsValue> {
        let grant = self.app.refresh(&RefreshToken::new(refresh_token), &string_list(&scopes)?);
        Ok(self.stored(grant.map_err(identity_error)?))
    }

    /// A token without user interaction: cached, else refreshed, else `interaction_required`.
    /// `forceRefresh`: never the token cached when the call started (a server refused it).
    #[wasm_bindgen(js_name = acquireTokenSilent)]
    pub fn acquire_token_silent(
        &self,
        scopes: JsValue,
        account: Option<String>,
        force_refresh: Option<bool>,
    ) -> Result<WasmFlow, JsValue> {
        let cache = self.cache("silent acquisition")?;
        let options = SilentOptions::new().force_refresh(force_refresh.unwrap_or(false));
        let silent = SilentFlow::new(cache, &self.app, &string_list(&scopes)?, account.as_deref(), options)
            .map_err(identity_error)?;
        Ok(flow(silent, token_out, self.timeout_ms))
    }

    /// When silent acquisition will refresh a token with this `expiresAt` / `refreshAt` (Unix
    /// seconds), by this client's cache: for hosts that schedule their own renewal.
    #[wasm_bindgen(js_name = renewAt)]
    pub fn renew_at(&self, expires_at: i64, refresh_at: Option<i64>) -> Result<i64, JsValue> {
        Ok(self.cache("renewAt")?.renew_at(expires_at, refresh_at))
    }

    /// Resource owner password credentials (Node build only) (discouraged: no MFA, no personal accounts).
    #[cfg(feature = "node")]
    #[wasm_bindgen(js_name = acquireTokenByUsernamePassword)]
    pub fn acquire_token_by_username_password(
        &self,
        username: String,
        password: String,
        scopes: JsValue,
    ) -> Result<WasmFlow, JsValue> {
        let grant = self.app.username_password(&username, &password, &string_list(&scopes)?);
        Ok(self.stored(grant.map_err(identity_error)?))
    }

    /// The accounts in the cache for this client and authority.
    pub fn accounts(&self) -> Result<JsValue, JsValue> {
        let accounts = match &self.cache {
            Some(c) => c.accounts(self.app.authority(), self.app.client_id()).map_err(|e| identity_error(e.into()))?,
            None => Vec::new(),
        };
        Ok(convert::to_js(&Value::Array(accounts.iter().map(convert::account_json).collect())))
    }

    /// Forgets an account (username or home account id); yields whether it was there.
    #[wasm_bindgen(js_name = removeAccount)]
    pub fn remove_account(&self, account: String) -> WasmFlow {
        match &self.cache {
            Some(c) => flow(
                CacheChange::<bool>::remove_account(c.clone(), &self.app, &account),
                JsValue::from_bool,
                self.timeout_ms,
            ),
            None => WasmFlow { inner: Box::new(Ready(Some(Ok(JsValue::FALSE)))), timeout_ms: self.timeout_ms },
        }
    }

    /// Stores a refresh token obtained elsewhere for `account` (`{username, ...}`), so the
    /// next silent call redeems it.
    #[wasm_bindgen(js_name = importRefreshToken)]
    pub fn import_refresh_token(&self, account: JsValue, refresh_token: String) -> Result<WasmFlow, JsValue> {
        let account = convert::account_from_json(&from_js(&account)?);
        let cache = self.cache("importRefreshToken")?;
        let change = CacheChange::<()>::import_refresh_token(
            cache,
            &self.app,
            account,
            RefreshToken::new(refresh_token),
            now_secs(),
        );
        Ok(flow(change, |()| JsValue::UNDEFINED, self.timeout_ms))
    }
}

/// The confidential client: the Node build only.
#[cfg(feature = "node")]
mod confidential {
    use std::sync::Arc;

    use mailoauth::identity::{
        client_credentials_grant, AssertionAlgorithm, AssertionSigner, ClientCredential, ClientSecret, RetryPolicy,
    };
    use mailoauth::Authority;
    use wasm_bindgen::prelude::*;

    use super::{client_id, flow, timeout_ms, token_out, WasmFlow};
    use crate::convert::{self, from_js, identity_error, string_list, type_error};

    /// A certificate whose key signs in JS (`nodeCertificate()` uses node:crypto): `{der:
    /// Uint8Array, sign(input: Uint8Array): Uint8Array, algorithm?: "PS256" | "RS256"}`.
    #[derive(Debug)]
    struct JsSigner {
        der: Vec<u8>,
        sign: js_sys::Function,
        algorithm: AssertionAlgorithm,
    }

    impl JsSigner {
        fn new(certificate: &JsValue) -> Result<JsSigner, JsValue> {
            let get = |n: &str| js_sys::Reflect::get(certificate, &JsValue::from_str(n)).unwrap_or(JsValue::UNDEFINED);
            let der = get("der");
            if !der.is_instance_of::<js_sys::Uint8Array>() {
                return Err(type_error("certificate.der must be a Uint8Array (the certificate's DER bytes)"));
            }
            let sign = get("sign")
                .dyn_into::<js_sys::Function>()
                .map_err(|_| type_error("certificate.sign must be a function"))?;
            let algorithm = match get("algorithm").as_string() {
                None => AssertionAlgorithm::default(),
                Some(name) => AssertionAlgorithm::from_name(&name)
                    .ok_or_else(|| type_error(&format!("certificate.algorithm \"{name}\" is not PS256 or RS256")))?,
            };
            Ok(JsSigner { der: js_sys::Uint8Array::new(&der).to_vec(), sign, algorithm })
        }
    }

    impl AssertionSigner for JsSigner {
        fn certificate_der(&self) -> Vec<u8> {
            self.der.clone()
        }

        fn algorithm(&self) -> AssertionAlgorithm {
            self.algorithm
        }

        fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, String> {
            let input = js_sys::Uint8Array::from(signing_input);
            let out = self.sign.call1(&JsValue::NULL, &input).map_err(|e| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_else(|| "sign() threw".to_owned())
            })?;
            if !out.is_instance_of::<js_sys::Uint8Array>() {
                return Err("certificate.sign must return a Uint8Array".to_owned());
            }
            Ok(js_sys::Uint8Array::new(&out).to_vec())
        }
    }

    /// A confidential client (daemon, server): client credentials with a secret or a certificate.
    #[wasm_bindgen]
    #[derive(Debug)]
    pub struct WasmConfidentialClient {
        client_id: String,
        authority: Authority,
        credential: ClientCredential,
        timeout_ms: f64,
    }

    #[wasm_bindgen]
    impl WasmConfidentialClient {
        /// `options`: `{clientId, clientSecret | certificate, provider?, authority?, tenant?, cloud?, timeoutMs?}`.
        #[wasm_bindgen(constructor)]
        #[allow(clippy::arc_with_non_send_sync)] // wasm is single-threaded
        pub fn new(options: JsValue) -> Result<WasmConfidentialClient, JsValue> {
            let o = from_js(&options)?;
            let authority = convert::authority(&options)?;
            let certificate =
                js_sys::Reflect::get(&options, &JsValue::from_str("certificate")).unwrap_or(JsValue::UNDEFINED);
            let signer = if certificate.is_object() {
                Some(ClientCredential::Signer(Arc::new(JsSigner::new(&certificate)?)))
            } else {
                None
            };
            let secret = convert::str_field(&o, "clientSecret").map(ClientSecret::new);
            let credential = ClientCredential::exactly_one(secret, signer).map_err(convert::identity_error)?;
            Ok(WasmConfidentialClient { client_id: client_id(&o)?, authority, credential, timeout_ms: timeout_ms(&o) })
        }

        /// App-only token (client credentials grant), e.g. for `https://outlook.office365.com/.default`.
        #[wasm_bindgen(js_name = acquireTokenForClient)]
        pub fn acquire_token_for_client(&self, scopes: JsValue) -> Result<WasmFlow, JsValue> {
            let grant = client_credentials_grant(
                &self.client_id,
                &self.authority,
                &self.credential,
                RetryPolicy::default(),
                &string_list(&scopes)?,
                crate::host::now_secs(),
            )
            .map_err(identity_error)?;
            Ok(flow(grant, token_out, self.timeout_ms))
        }
    }
}
