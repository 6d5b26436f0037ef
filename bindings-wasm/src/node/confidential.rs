//! The confidential client (daemon, server): client credentials with a secret or a
//! certificate whose key signs in JS. Node build only. Its grant is a flow of
//! [`crate::dispatch`], resumed by `js/host.js` like every other.

use std::sync::Arc;

use mailoauth::identity::{
    client_credentials_grant, AssertionAlgorithm, AssertionSigner, ClientCredential, ClientSecret, RetryPolicy,
};
use mailoauth::Authority;
use wasm_bindgen::prelude::*;

use crate::convert::js::{from_js, identity_error, type_error};
use crate::convert::{self, str_field, string_list};
use crate::dispatch::{register, timeout_ms, Machine};

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
            e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "sign() threw".to_owned())
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
    timeout_ms: u64,
}

#[wasm_bindgen]
impl WasmConfidentialClient {
    /// `options`: `{clientId, clientSecret | certificate, provider?, authority?, tenant?, cloud?, timeoutMs?}`.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::arc_with_non_send_sync)] // wasm is single-threaded
    pub fn new(options: JsValue) -> Result<WasmConfidentialClient, JsValue> {
        let o = from_js(&options)?;
        let authority = convert::authority(&o).map_err(identity_error)?;
        let certificate =
            js_sys::Reflect::get(&options, &JsValue::from_str("certificate")).unwrap_or(JsValue::UNDEFINED);
        let signer = if certificate.is_object() {
            Some(ClientCredential::Signer(Arc::new(JsSigner::new(&certificate)?)))
        } else {
            None
        };
        let secret = str_field(&o, "clientSecret").map(ClientSecret::new);
        let credential = ClientCredential::exactly_one(secret, signer).map_err(identity_error)?;
        let client_id =
            str_field(&o, "clientId").map(str::to_owned).ok_or_else(|| type_error("clientId is required"))?;
        Ok(WasmConfidentialClient { client_id, authority, credential, timeout_ms: timeout_ms(&o) })
    }

    /// App-only token (client credentials grant), e.g. for `https://outlook.office365.com/.default`:
    /// the number of the flow `js/host.js` resumes.
    #[wasm_bindgen(js_name = acquireTokenForClient)]
    pub fn acquire_token_for_client(&self, scopes: JsValue) -> Result<f64, JsValue> {
        let scopes = string_list(Some(&from_js(&scopes)?)).map_err(crate::convert::js::failure)?;
        let grant = client_credentials_grant(
            &self.client_id,
            &self.authority,
            &self.credential,
            RetryPolicy::default(),
            &scopes,
            super::now_secs(),
        )
        .map_err(identity_error)?;
        Ok(mailoauth::json::as_u64(&register(Machine::Token(Box::new(grant)), self.timeout_ms)).unwrap_or(0) as f64)
    }
}
