//! The host services the core needs: HTTP through `fetch`, the clock through `Date.now()`
//! and a timer through `setTimeout` (all in `js/host.js`, a few lines of JS; no HTTP client
//! is compiled into the wasm).

use std::time::Duration;

use js_sys::{Array, Uint8Array};
use mailoauth::identity::{BoxFuture, HttpClient, HttpError, HttpRequest, HttpResponse, Method, Platform};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(raw_module = "../js/host.js")]
extern "C" {
    /// `fetch` without following redirects, with a time-out, reading at most `max_bytes` of
    /// the body (the core's `MAX_RESPONSE_BYTES`); resolves to
    /// `{status, headers: [[name, value]], body: Uint8Array}` or rejects with
    /// `{message, timedOut}`.
    #[wasm_bindgen(js_name = httpSend)]
    fn http_send(
        fetch: &JsValue,
        method: &str,
        url: &str,
        headers: Array,
        body: Option<Uint8Array>,
        timeout_ms: f64,
        max_bytes: f64,
    ) -> js_sys::Promise;
    /// A promise resolved after `ms` milliseconds.
    #[wasm_bindgen(js_name = sleepMs)]
    fn sleep_ms(ms: f64) -> js_sys::Promise;
}

/// Seconds since the Unix epoch (`Date.now()`).
pub(crate) fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// HTTP through `fetch` (the global one, or one the caller passes: a test double, undici with
/// a custom CA, ...). Redirects are not followed, as the core requires.
pub(crate) struct FetchHttp {
    fetch: JsValue,
    timeout: Duration,
}

impl FetchHttp {
    pub(crate) fn new(fetch: JsValue, timeout: Duration) -> FetchHttp {
        FetchHttp { fetch, timeout }
    }
}

impl HttpClient for FetchHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            let headers = Array::new();
            for (name, value) in &request.headers {
                headers.push(&Array::of2(&JsValue::from_str(name), &JsValue::from_str(value)));
            }
            let method = match request.method {
                Method::Get => "GET",
                Method::Post => "POST",
            };
            let body = (request.method == Method::Post).then(|| Uint8Array::from(request.body.as_slice()));
            let promise = http_send(
                &self.fetch,
                method,
                &request.url,
                headers,
                body,
                self.timeout.as_millis() as f64,
                mailoauth::identity::MAX_RESPONSE_BYTES as f64,
            );
            match JsFuture::from(promise).await {
                Ok(resp) => Ok(response(&resp)),
                Err(e) => Err(HttpError {
                    message: get_string(&e, "message").unwrap_or_else(|| "fetch failed".to_owned()),
                    timed_out: js_sys::Reflect::get(&e, &"timedOut".into()).ok().and_then(|v| v.as_bool())
                        == Some(true),
                }),
            }
        })
    }
}

fn get_string(v: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(v, &JsValue::from_str(name)).ok().and_then(|v| v.as_string())
}

fn response(v: &JsValue) -> HttpResponse {
    let get = |name: &str| js_sys::Reflect::get(v, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    let status = get("status").as_f64().unwrap_or(0.0) as u16;
    let headers = Array::from(&get("headers"))
        .iter()
        .filter_map(|pair| {
            let pair = Array::from(&pair);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect();
    let body = get("body");
    let body = if body.is_instance_of::<Uint8Array>() { Uint8Array::from(body).to_vec() } else { Vec::new() };
    HttpResponse { status, headers, body }
}

/// `Date.now()` and `setTimeout`.
pub(crate) struct JsPlatform;

impl Platform for JsPlatform {
    fn now(&self) -> i64 {
        now_secs()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = JsFuture::from(sleep_ms(duration.as_millis() as f64)).await;
        })
    }
}
