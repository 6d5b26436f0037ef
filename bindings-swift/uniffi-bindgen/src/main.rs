//! The UniFFI bindings generator at the workspace's pinned version (`uniffi = "=0.32.2"`):
//! `uniffi-bindgen generate --library <libmailoauth_ffi> --language swift|python --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
