//! `PublicClient` and `ConfidentialClient`: each method is one call into the core plus one
//! conversion of its result or error. The JS classes of the package wrap these.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use mailoauth::cache::TokenCache;
use mailoauth::identity::{HttpClient, Platform, RefreshToken};
use mailoauth::json::Value;
use mailoauth::PublicClient;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use crate::convert::{self, from_js, identity_error, string_list, token_js, type_error};
use crate::host::{FetchHttp, JsPlatform};
use crate::store::JsStore;

/// The HTTP client and clock for `options` (`fetch`: a fetch function to use instead of the
/// global one; `timeoutMs`: per request, default 30 s).
#[allow(clippy::arc_with_non_send_sync)] // wasm is single-threaded; the core's traits are not Send there
fn host(options: &JsValue) -> (Arc<dyn HttpClient>, Arc<dyn Platform>) {
    let get = |n: &str| js_sys::Reflect::get(options, &JsValue::from_str(n)).unwrap_or(JsValue::UNDEFINED);
    let timeout = get("timeoutMs").as_f64().filter(|t| *t > 0.0).unwrap_or(30_000.0);
    let http = FetchHttp::new(get("fetch"), Duration::from_millis(timeout as u64));
    (Arc::new(http), Arc::new(JsPlatform))
}

fn client_id(options: &Value) -> Result<String, JsValue> {
    convert::str_field(options, "clientId").map(str::to_owned).ok_or_else(|| type_error("clientId is required"))
}

/// Runs `fut` unless `abort` (a promise that rejects when the caller aborts) settles first.
async fn or_abort<T>(
    fut: impl Future<Output = Result<T, JsValue>>,
    abort: Option<js_sys::Promise>,
) -> Result<T, JsValue> {
    let Some(abort) = abort else { return fut.await };
    let mut fut = std::pin::pin!(fut);
    let mut abort = JsFuture::from(abort);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = fut.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        match std::pin::Pin::new(&mut abort).poll(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(_)) => Poll::Ready(Err(identity_error(mailoauth::IdentityError::new(
                mailoauth::IdentityErrorKind::Cancelled,
                "cancelled",
            )))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A core future that yields a token.
type TokenFuture = std::pin::Pin<Box<dyn Future<Output = Result<mailoauth::Token, mailoauth::IdentityError>>>>;

/// The promise of a token: one conversion path for every grant (the wasm keeps one copy).
fn token_promise(fut: TokenFuture, abort: Option<js_sys::Promise>) -> js_sys::Promise {
    future_to_promise(async move {
        let token = async { fut.await.map(|t| token_js(&t)).map_err(identity_error) };
        or_abort(token, abort).await
    })
}

/// A public client (browser page, Node script, desktop app): device code, authorization code
/// with PKCE, refresh, silent acquisition from the cache.
#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmPublicClient {
    inner: Rc<PublicClient>,
}

#[wasm_bindgen]
impl WasmPublicClient {
    /// `options`: `{clientId, provider?, authority?, tenant?, cloud?, fetch?, timeoutMs?}`;
    /// `store`: a token store object (`load`/`save`), or nothing for no cache.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::arc_with_non_send_sync)]
    pub fn new(options: JsValue, store: JsValue) -> Result<WasmPublicClient, JsValue> {
        let o = from_js(&options)?;
        let authority = convert::authority(&options)?;
        let (http, platform) = host(&options);
        let mut client = PublicClient::new(client_id(&o)?, authority, http, platform);
        if !store.is_undefined() && !store.is_null() {
            let mut cache = TokenCache::new(Arc::new(JsStore::new(store)));
            if let Some(m) = convert::uint_field(&o, "refreshMarginSecs") {
                cache = cache.with_refresh_margin(Duration::from_secs(m));
            }
            client = client.with_cache(Arc::new(cache));
        }
        Ok(WasmPublicClient { inner: Rc::new(client) })
    }

    /// The client id.
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.client_id().to_owned()
    }

    /// The authority URL.
    #[wasm_bindgen(getter)]
    pub fn authority(&self) -> String {
        self.inner.authority().url()
    }

    /// The scopes a user sign-in asks for (normalized, plus the OpenID scopes).
    #[wasm_bindgen(js_name = userScopes)]
    pub fn user_scopes(&self, scopes: JsValue) -> Result<Vec<String>, JsValue> {
        self.inner.user_scopes(&string_list(&scopes)?).map_err(identity_error)
    }

    /// Starts an authorization-code flow: `{url, state, redirectUri, scopes, codeVerifier}`.
    #[wasm_bindgen(js_name = authorizationUrl)]
    pub fn authorization_url(&self, scopes: JsValue, redirect_uri: &str, options: JsValue) -> Result<JsValue, JsValue> {
        let options = convert::auth_options_from_js(&options)?;
        let request =
            self.inner.authorization_url(&string_list(&scopes)?, redirect_uri, &options).map_err(identity_error)?;
        Ok(convert::auth_request_js(&request))
    }

    /// Redeems the URL the browser came back to (state checked, error redirects typed).
    #[wasm_bindgen(js_name = redeemRedirect)]
    pub fn redeem_redirect(&self, request: JsValue, redirect_url: String) -> Result<js_sys::Promise, JsValue> {
        let request = convert::auth_request_from_js(&request)?;
        let c = self.inner.clone();
        Ok(token_promise(Box::pin(async move { c.redeem_redirect(&request, &redirect_url).await }), None))
    }

    /// Starts a device-code flow; resolves to `{userCode, verificationUri, message, ...}`.
    #[wasm_bindgen(js_name = startDeviceFlow)]
    pub fn start_device_flow(&self, scopes: JsValue) -> Result<js_sys::Promise, JsValue> {
        let scopes = string_list(&scopes)?;
        let c = self.inner.clone();
        Ok(future_to_promise(async move {
            c.start_device_flow(&scopes).await.map(|f| convert::device_flow_js(&f)).map_err(identity_error)
        }))
    }

    /// Polls until the user signs in, declines or the code expires. `abort`: a promise that
    /// settles when the caller gives up (an `AbortSignal` turned into a promise).
    #[wasm_bindgen(js_name = waitDeviceFlow)]
    pub fn wait_device_flow(&self, flow: JsValue, abort: Option<js_sys::Promise>) -> Result<js_sys::Promise, JsValue> {
        let flow = convert::device_flow_from_js(&flow)?;
        let c = self.inner.clone();
        Ok(token_promise(Box::pin(async move { c.wait_device_flow(&flow).await }), abort))
    }

    /// Redeems a refresh token (the rotated one is kept, in the cache too).
    pub fn refresh(&self, refresh_token: String, scopes: JsValue) -> Result<js_sys::Promise, JsValue> {
        let scopes = string_list(&scopes)?;
        let c = self.inner.clone();
        Ok(token_promise(Box::pin(async move { c.refresh(&RefreshToken::new(refresh_token), &scopes).await }), None))
    }

    /// A token without user interaction: cached, else refreshed, else `interaction_required`.
    /// `forceRefresh`: never the token cached when the call started (a server refused it).
    #[wasm_bindgen(js_name = acquireTokenSilent)]
    pub fn acquire_token_silent(
        &self,
        scopes: JsValue,
        account: Option<String>,
        force_refresh: Option<bool>,
    ) -> Result<js_sys::Promise, JsValue> {
        let scopes = string_list(&scopes)?;
        let c = self.inner.clone();
        let mut options = mailoauth::SilentOptions::new();
        options.force_refresh = force_refresh.unwrap_or(false);
        Ok(token_promise(
            Box::pin(async move { c.acquire_token_silent_with(&scopes, account.as_deref(), options).await }),
            None,
        ))
    }

    /// When silent acquisition will refresh a token with this `expiresAt` / `refreshAt` (Unix
    /// seconds), by this client's cache: for hosts that schedule their own renewal.
    #[wasm_bindgen(js_name = renewAt)]
    pub fn renew_at(&self, expires_at: i64, refresh_at: Option<i64>) -> Result<i64, JsValue> {
        let cache = self.inner.cache().ok_or_else(|| {
            identity_error(mailoauth::IdentityError::new(
                mailoauth::IdentityErrorKind::Configuration,
                "renewAt needs a token cache",
            ))
        })?;
        Ok(cache.renew_at(expires_at, refresh_at))
    }

    /// Resource owner password credentials (Node build only) (discouraged: no MFA, no personal accounts).
    #[cfg(feature = "node")]
    #[wasm_bindgen(js_name = acquireTokenByUsernamePassword)]
    pub fn acquire_token_by_username_password(
        &self,
        username: String,
        password: String,
        scopes: JsValue,
    ) -> Result<js_sys::Promise, JsValue> {
        let scopes = string_list(&scopes)?;
        let c = self.inner.clone();
        Ok(token_promise(
            Box::pin(async move { c.acquire_token_by_username_password(&username, &password, &scopes).await }),
            None,
        ))
    }

    /// The accounts in the cache for this client and authority.
    pub fn accounts(&self) -> Result<JsValue, JsValue> {
        let accounts = self.inner.accounts().map_err(identity_error)?;
        Ok(convert::to_js(&Value::Array(accounts.iter().map(convert::account_json).collect())))
    }

    /// Forgets an account (username or home account id); resolves to whether it was there.
    #[wasm_bindgen(js_name = removeAccount)]
    pub fn remove_account(&self, account: String) -> js_sys::Promise {
        let c = self.inner.clone();
        future_to_promise(
            async move { c.remove_account(&account).await.map(JsValue::from_bool).map_err(identity_error) },
        )
    }

    /// Stores a refresh token obtained elsewhere for `account` (`{username, ...}`), so the
    /// next silent call redeems it.
    #[wasm_bindgen(js_name = importRefreshToken)]
    pub fn import_refresh_token(&self, account: JsValue, refresh_token: String) -> Result<js_sys::Promise, JsValue> {
        let account = convert::account_from_json(&from_js(&account)?);
        let c = self.inner.clone();
        Ok(future_to_promise(async move {
            let Some(cache) = c.cache() else {
                return Err(type_error("importRefreshToken needs a token cache"));
            };
            cache
                .import_refresh_token(
                    c.authority(),
                    c.client_id(),
                    account,
                    RefreshToken::new(refresh_token),
                    c.platform().as_ref(),
                )
                .await
                .map(|()| JsValue::UNDEFINED)
                .map_err(|e| identity_error(e.into()))
        }))
    }
}

/// The confidential client: the Node build only.
#[cfg(feature = "node")]
mod confidential {
    use std::rc::Rc;
    use std::sync::Arc;

    use mailoauth::identity::{AssertionAlgorithm, AssertionSigner, ClientCredential, ClientSecret};
    use mailoauth::ConfidentialClient;
    use wasm_bindgen::prelude::*;

    use super::{client_id, host, token_promise};
    use crate::convert::{self, from_js, string_list, type_error};

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
        inner: Rc<ConfidentialClient>,
    }

    #[wasm_bindgen]
    impl WasmConfidentialClient {
        /// `options`: `{clientId, clientSecret, provider?, authority?, tenant?, cloud?, fetch?,
        /// timeoutMs?}`.
        #[wasm_bindgen(constructor)]
        pub fn new(options: JsValue) -> Result<WasmConfidentialClient, JsValue> {
            let o = from_js(&options)?;
            let authority = convert::authority(&options)?;
            let (http, platform) = host(&options);
            let certificate =
                js_sys::Reflect::get(&options, &JsValue::from_str("certificate")).unwrap_or(JsValue::UNDEFINED);
            let signer = if certificate.is_object() {
                Some(ClientCredential::Signer(Arc::new(JsSigner::new(&certificate)?)))
            } else {
                None
            };
            let secret = convert::str_field(&o, "clientSecret").map(ClientSecret::new);
            let credential = ClientCredential::exactly_one(secret, signer).map_err(convert::identity_error)?;
            let client = ConfidentialClient::new(client_id(&o)?, authority, credential, http, platform);
            Ok(WasmConfidentialClient { inner: Rc::new(client) })
        }

        /// App-only token (client credentials grant), e.g. for `https://outlook.office365.com/.default`.
        #[wasm_bindgen(js_name = acquireTokenForClient)]
        pub fn acquire_token_for_client(&self, scopes: JsValue) -> Result<js_sys::Promise, JsValue> {
            let scopes = string_list(&scopes)?;
            let c = self.inner.clone();
            Ok(token_promise(Box::pin(async move { c.acquire_token_for_client(&scopes).await }), None))
        }
    }
}
